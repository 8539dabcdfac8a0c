"""The relay's outbox reads against the real database: where a product's run starts (its relay position,
or its highest published row when no position was ever kept) and a long backlog read batch by batch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from publisher_helpers import add_product, commit_version, seed_registry

from epd_publisher.outbox import mark_published, publishable_rows


@pytest.fixture
async def pool(fresh_db) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def runs(pool: asyncpg.Pool, products: list[str], max_rows: int = 100) -> list[tuple[str, int]]:
    async with pool.acquire() as conn, conn.transaction():
        return [(r.product_id, r.product_sequence) for r in await publishable_rows(conn, products, max_rows)]


async def test_a_run_starts_after_the_relay_position(pool) -> None:
    await seed_registry(pool)
    await add_product(pool, "magnet-a")
    for _ in range(4):
        await commit_version(pool, "magnet-a")
    async with pool.acquire() as conn, conn.transaction():
        await mark_published(conn, await publishable_rows(conn, ["magnet-a"], 2))
    assert await pool.fetchval("SELECT last_sequence FROM relay_positions WHERE product_id = 'magnet-a'") == 2
    assert await runs(pool, ["magnet-a"]) == [("magnet-a", 3), ("magnet-a", 4)]


async def test_without_a_relay_position_the_highest_published_row_counts(pool) -> None:
    # Rows published before relay positions were kept: no position row, published_at set.
    await seed_registry(pool)
    await add_product(pool, "magnet-b")
    for _ in range(3):
        await commit_version(pool, "magnet-b")
    await pool.execute("UPDATE outbox SET published_at = now() WHERE product_sequence <= 2")
    assert await runs(pool, ["magnet-b"]) == [("magnet-b", 3)]
    # A position, once kept, is what counts (here it is behind: the published row 2 is sent again).
    await pool.execute("INSERT INTO relay_positions (product_id, last_sequence) VALUES ('magnet-b', 1)")
    await pool.execute("UPDATE outbox SET published_at = NULL WHERE product_sequence = 2")
    assert await runs(pool, ["magnet-b"]) == [("magnet-b", 2), ("magnet-b", 3)]


async def test_a_backlog_is_read_in_order_batch_by_batch(pool) -> None:
    await seed_registry(pool)
    for product in ("magnet-c", "magnet-d"):
        await add_product(pool, product)
        for _ in range(25):
            await commit_version(pool, product)
    seen: list[tuple[str, int]] = []
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await publishable_rows(conn, ["magnet-c", "magnet-d"], 10)
            await mark_published(conn, rows)
        if not rows:
            break
        seen.extend((r.product_id, r.product_sequence) for r in rows)
    assert seen == [(p, s) for p in ("magnet-c", "magnet-d") for s in range(1, 26)]
