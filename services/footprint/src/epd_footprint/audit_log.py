"""Reading the audit log (db/migrations/versions/0011_audit_log.py) and checking its chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from .domain.audit_chain import ChainCheck, LogRow

_ROWS = """
    SELECT seq, at, actor, reason, table_name, operation, row_key::text AS row_key, before::text AS before,
           after::text AS after, prev_hash, row_hash
    FROM audit_log WHERE seq >= $1 AND at >= $2 ORDER BY seq
"""
_FAR_PAST = datetime.fromisoformat("0001-01-01T00:00:00+00:00")


@dataclass
class Verdict:
    checked: int
    first_seq: int | None
    from_start: bool
    head_seq: int
    head_hash: bytes
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def rows(conn: asyncpg.Connection, since: int | datetime | None) -> AsyncIterator[LogRow]:
    """The rows from `since` (a seq or a time) in seq order, streamed (call inside a transaction)."""
    seq, at = (since, _FAR_PAST) if isinstance(since, int) else (1, since or _FAR_PAST)
    async for r in conn.cursor(_ROWS, seq, at, prefetch=500):
        yield LogRow(**dict(r))


async def head(conn: asyncpg.Connection) -> tuple[int, bytes]:
    row = await conn.fetchrow("SELECT seq, row_hash FROM audit_log_head")
    if row is None:
        return 0, bytes(32)
    return int(row["seq"]), bytes(row["row_hash"])


async def walk(
    conn: asyncpg.Connection, since: int | datetime | None, table: str | None = None
) -> AsyncIterator[tuple[LogRow, bool]]:
    """(row, shown) in seq order: every row from `since` (the chain needs them all), shown when it
    belongs to `table` (or no table was asked for)."""
    async for row in rows(conn, since):
        yield row, table is None or row.table_name == table


def verdict(chain: ChainCheck, head_seq: int, head_hash: bytes) -> Verdict:
    problems = chain.finish(head_seq, head_hash) if (chain.checked or chain.from_start) else chain.problems
    return Verdict(chain.checked, chain.first_seq, chain.from_start, head_seq, head_hash, problems)
