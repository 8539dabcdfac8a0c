"""Token buckets every gateway replica shares: one row per (scope, client key) in PostgreSQL
(gateway_rate_buckets, migration 0013), refilled and taken from in one statement against the
database's clock, so two replicas behind a load balancer draw on one budget per client.

A bucket holds up to `burst` tokens and gains `rate` per second; a request takes one. The row lock of
the UPSERT orders concurrent takes of one client; the table is UNLOGGED, so a take waits for no WAL
flush. Rows of clients idle for longer than a full refill are deleted now and then (`purge`).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal, Protocol

import asyncpg

Scope = Literal["api", "token"]
MAX_KEY_CHARS = 300

# The bucket's tokens now: what it held plus the refill since its last take, at most the burst.
_REFILLED = (
    "least($4::float8, b.tokens + $3::float8 * greatest(0, extract(epoch FROM excluded.updated_at - b.updated_at)))"
)
# $1 scope, $2 key, $3 rate per second, $4 burst, $5 now (NULL: the database clock). A new bucket is full.
_TAKE = f"""
    INSERT INTO gateway_rate_buckets AS b (scope, key, tokens, allowed, updated_at)
    VALUES ($1, $2, $4::float8 - 1, true, coalesce($5::timestamptz, clock_timestamp()))
    ON CONFLICT (scope, key) DO UPDATE SET
        tokens = {_REFILLED} - CASE WHEN {_REFILLED} >= 1 THEN 1 ELSE 0 END,
        allowed = {_REFILLED} >= 1,
        updated_at = greatest(b.updated_at, excluded.updated_at)
    RETURNING allowed, tokens"""
_PURGE = """
    DELETE FROM gateway_rate_buckets
    WHERE scope = $1 AND updated_at < clock_timestamp() - make_interval(secs => $2)"""


#: `_TAKE` with a query that runs in the same statement (its parameters from $6), joined to the bucket's row.
_TAKE_WITH = (
    "WITH took AS ({take}) SELECT took.allowed, took.tokens, x.* FROM took "
    "LEFT JOIN LATERAL (SELECT true AS found__, q.* FROM ({query}) q) x ON true"
)


class RateLimiter(Protocol):
    async def take(self, key: str) -> float:
        """0 when allowed, else the seconds to wait (for Retry-After)."""
        ...

    async def take_with(self, key: str, query: str, *args: object) -> tuple[float, asyncpg.Record | None]:
        """`take(key)` and `query` (a SELECT of at most one row, parameters from $6) in one statement and
        round trip: the wait and the query's row (None when it found none)."""
        ...

    async def purge(self) -> int:
        """Forget idle clients; returns how many."""
        ...


class SharedBuckets:
    """`take(key)` returns 0 when allowed, else the seconds to wait (for Retry-After)."""

    def __init__(
        self, pool: asyncpg.Pool, scope: Scope, rate_per_second: float, burst: int, clock: datetime | None = None
    ) -> None:
        self.pool, self.scope, self.rate, self.burst = pool, scope, rate_per_second, burst
        self.now: datetime | None = clock  # tests pin the time; None is the database's clock

    async def take(self, key: str) -> float:
        # Keys are client ids or `ip:<address>`: bounded, but cut anyway so no input can make the row fail.
        row = await self.pool.fetchrow(_TAKE, self.scope, key[:MAX_KEY_CHARS], self.rate, self.burst, self.now)
        assert row is not None  # the UPSERT always returns its row
        return self._wait(row)

    async def take_with(self, key: str, query: str, *args: object) -> tuple[float, asyncpg.Record | None]:
        sql = _TAKE_WITH.format(take=_TAKE, query=query)
        row = await self.pool.fetchrow(sql, self.scope, key[:MAX_KEY_CHARS], self.rate, self.burst, self.now, *args)
        assert row is not None  # the UPSERT always returns its row
        return self._wait(row), (row if row["found__"] else None)

    def _wait(self, row: asyncpg.Record) -> float:
        return 0.0 if row["allowed"] else (1 - row["tokens"]) / self.rate

    async def purge(self) -> int:
        """Delete buckets untouched for longer than a full refill (they would be full again)."""
        status = await self.pool.execute(_PURGE, self.scope, self.burst / self.rate + 1)
        return int(status.split()[-1])


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
