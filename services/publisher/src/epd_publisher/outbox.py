"""SQL adapter for the outbox relay: claim products, read their publishable rows, mark them published
(``PgOutbox``, the PostgreSQL relay.Outbox: one batch is one transaction).

Ordering rules (DESIGN.md section 6):
- Snapshot rule: only rows with ``transaction_id < pg_snapshot_xmin(pg_current_snapshot())`` are read,
  so a row whose transaction commits late is never skipped by a moving cursor.
- One relay instance at a time per product: products are claimed with ``pg_try_advisory_xact_lock``
  inside the transaction that later marks the rows published, so the claim lasts until the acks are
  recorded (and dies with the connection if the relay is killed).
- Contiguity: a product's rows are published only as the gap-free run after the last published
  sequence (``relay_positions``). The snapshot rule alone is not enough: a transaction that started
  before another may wait on the ``outbox_sequences`` row lock and commit the NEXT sequence with a
  smaller xid, making sequence n+1 eligible while n is not yet.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from google.protobuf.message import DecodeError

from epd.v1 import footprint_pb2
from epd_common.db import transaction

#: First key of the two-key advisory lock; the second is hashtext(product_id).
LOCK_NAMESPACE = 0x0E9D_0001


@dataclass(frozen=True, slots=True)
class OutboxRow:
    outbox_id: int
    event_id: str
    product_id: str
    product_sequence: int
    version: int
    payload: bytes
    created_at: datetime


_CANDIDATES = """
    SELECT product_id
    FROM outbox
    WHERE published_at IS NULL AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    GROUP BY product_id
    ORDER BY min(outbox_id)
    LIMIT $1
"""

_CLAIM = """
    SELECT p FROM unnest($1::text[]) AS p
    WHERE pg_try_advisory_xact_lock($2::int, hashtext(p))
"""

# Each claimed product's last published sequence, once per product: the relay position, or (a product
# relayed before positions were kept) its highest published row. COALESCE evaluates the fallback only
# when the position is missing. Kept apart from _ROWS so its cost does not grow with the backlog: as a
# per-row subquery it ran once per read row and scanned the product's unpublished rows each time.
_LAST_PUBLISHED = """
    SELECT p.product_id,
           coalesce(rp.last_sequence,
                    (SELECT max(q.product_sequence) FROM outbox q
                      WHERE q.product_id = p.product_id AND q.published_at IS NOT NULL)) AS last_published
    FROM unnest($1::text[]) AS p(product_id)
    LEFT JOIN relay_positions rp ON rp.product_id = p.product_id
"""

# In (product_id, product_sequence) order straight from that unique index: the first $2 rows.
_ROWS = """
    SELECT o.outbox_id, o.event_id::text, o.product_id, o.product_sequence, o.version, o.payload,
           o.created_at, o.transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AS eligible
    FROM outbox o
    WHERE o.product_id = ANY($1::text[]) AND o.published_at IS NULL
    ORDER BY o.product_id, o.product_sequence
    LIMIT $2
"""


async def claim_products(conn: asyncpg.Connection, max_products: int) -> list[str]:
    """Inside an open transaction: lock up to ``max_products`` products with publishable rows."""
    candidates = [r["product_id"] for r in await conn.fetch(_CANDIDATES, max_products)]
    if not candidates:
        return []
    return [r["p"] for r in await conn.fetch(_CLAIM, candidates, LOCK_NAMESPACE)]


def publishable_runs(records: list[asyncpg.Record], last_published: Mapping[str, int | None]) -> list[OutboxRow]:
    """The gap-free, eligible run of each product after its last published sequence, in order."""
    out: list[OutboxRow] = []
    current: str | None = None
    expected = 0  # set from the first record of each product
    blocked = False
    for r in records:
        if r["product_id"] != current:
            current, blocked = r["product_id"], False
            last = last_published.get(current)
            # Sequences start at 1 (outbox_sequences); a first row numbered 0 is accepted too.
            expected = last + 1 if last is not None else min(1, r["product_sequence"])
        if blocked:
            continue
        if not r["eligible"] or r["product_sequence"] != expected:
            blocked = True
            continue
        out.append(
            OutboxRow(
                r["outbox_id"],
                r["event_id"],
                r["product_id"],
                r["product_sequence"],
                r["version"],
                bytes(r["payload"]),
                r["created_at"],
            )
        )
        expected += 1
    return out


async def publishable_rows(conn: asyncpg.Connection, products: list[str], max_rows: int) -> list[OutboxRow]:
    if not products:
        return []
    last = {r["product_id"]: r["last_published"] for r in await conn.fetch(_LAST_PUBLISHED, products)}
    return publishable_runs(await conn.fetch(_ROWS, products, max_rows), last)


async def mark_published(conn: asyncpg.Connection, rows: list[OutboxRow]) -> None:
    """Inside the claiming transaction, after every row's ack: published_at and relay positions."""
    if not rows:
        return
    await conn.execute(
        "UPDATE outbox SET published_at = clock_timestamp() WHERE outbox_id = ANY($1::bigint[])",
        [r.outbox_id for r in rows],
    )
    last: dict[str, int] = {}
    for r in rows:
        last[r.product_id] = max(last.get(r.product_id, r.product_sequence), r.product_sequence)
    await conn.execute(
        """
        INSERT INTO relay_positions (product_id, last_sequence)
        SELECT * FROM unnest($1::text[], $2::bigint[])
        ON CONFLICT (product_id) DO UPDATE
            SET last_sequence = GREATEST(relay_positions.last_sequence, excluded.last_sequence),
                updated_at = now()
        """,
        list(last),
        list(last.values()),
    )


async def oldest_unpublished_age(conn: asyncpg.Connection | asyncpg.Pool) -> float:
    """Seconds since the oldest unpublished outbox row was written (0 when none)."""
    value = await conn.fetchval(
        "SELECT extract(epoch FROM clock_timestamp() - min(created_at)) FROM outbox WHERE published_at IS NULL"
    )
    return float(value or 0.0)


class PgOutboxBatch:
    """relay.OutboxBatch in one transaction of ``conn``."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim_products(self, max_products: int) -> list[str]:
        return await claim_products(self.conn, max_products)

    async def publishable_rows(self, products: list[str], max_rows: int) -> list[OutboxRow]:
        return await publishable_rows(self.conn, products, max_rows)

    async def mark_published(self, rows: list[OutboxRow]) -> None:
        await mark_published(self.conn, rows)


class PgOutbox:
    """relay.Outbox on a pool: each batch is one transaction (committed when the block exits normally)."""

    retryable: tuple[type[Exception], ...] = (OSError, asyncpg.PostgresError)

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[PgOutboxBatch]:
        async with transaction(self._pool) as conn:
            yield PgOutboxBatch(conn)

    async def oldest_unpublished_age(self) -> float:
        return await oldest_unpublished_age(self._pool)


async def matches_outbox(pool: asyncpg.Pool, event: footprint_pb2.FootprintChanged) -> bool:
    """Is `event` what the footprint service wrote: an outbox row with its event id whose payload is the
    same message, field for field? (The relay re-encodes payloads, so messages are compared, not bytes.)"""
    try:
        event_id = uuid.UUID(event.event_id)
    except ValueError:
        return False
    payload = await pool.fetchval("SELECT payload FROM outbox WHERE event_id = $1", event_id)
    if payload is None:
        return False
    try:
        written = footprint_pb2.FootprintChanged.FromString(bytes(payload))
    except DecodeError:
        return False
    return bool(written == event)
