"""Migrations from scratch and as a no-op; the transaction helper rolls back cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import pytest

from epd_common.db import transaction
from tests.conftest import REPO


def alembic(dsn: str, *args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(REPO / "db" / "alembic.ini"), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, EPD_PG_DSN=dsn),
        cwd=REPO,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout + res.stderr


async def test_migrations_apply_from_scratch_and_reapply_as_a_no_op(pg_dsn, unique):
    admin = await asyncpg.connect(pg_dsn)
    db = f"migr_{unique}"
    await admin.execute(f"CREATE DATABASE {db}")
    dsn = pg_dsn.rsplit("/", 1)[0] + f"/{db}"
    try:
        alembic(dsn, "upgrade", "heads")
        conn = await asyncpg.connect(dsn)
        schema_before = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        heads = await conn.fetch("SELECT version_num FROM alembic_version ORDER BY 1")
        out = alembic(dsn, "upgrade", "heads")
        assert "Running upgrade" not in out
        schema_after = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        assert schema_after == schema_before
        assert await conn.fetch("SELECT version_num FROM alembic_version ORDER BY 1") == heads
        assert "inbox" in {r["table_name"] for r in schema_before}
        await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        await admin.close()


async def test_transaction_rolls_back_cleanly(pg_pool, unique):
    class Boom(Exception):
        pass

    async def insert_then_fail() -> None:
        async with transaction(pg_pool) as conn:
            await conn.execute("INSERT INTO inbox (consumer, message_id) VALUES ($1, 'm1')", unique)
            assert await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", unique) == 1
            raise Boom

    async def insert_a_duplicate() -> None:
        async with transaction(pg_pool) as conn:
            await conn.execute("INSERT INTO inbox (consumer, message_id) VALUES ($1, 'm2')", unique)
            await conn.execute("INSERT INTO inbox (consumer, message_id) VALUES ($1, 'm1')", unique)

    with pytest.raises(Boom):
        await insert_then_fail()
    assert await pg_pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", unique) == 0
    async with transaction(pg_pool) as conn:
        await conn.execute("INSERT INTO inbox (consumer, message_id) VALUES ($1, 'm1')", unique)
    assert await pg_pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", unique) == 1
    # a duplicate in a later transaction fails that transaction only, leaving the first row intact
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert_a_duplicate()
    rows = await pg_pool.fetch("SELECT message_id FROM inbox WHERE consumer = $1", unique)
    assert [r["message_id"] for r in rows] == ["m1"]
