"""Migrations from scratch and as a no-op; a scratch database (a copy of the migrated template) is the
same as one migrated from scratch; the transaction helper rolls back cleanly."""

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


CATALOG = {
    "columns": "SELECT table_name, column_name, data_type, column_default, is_nullable"
    " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "constraints": "SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def"
    " FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
    "triggers": "SELECT tgrelid::regclass::text AS t, tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2",
    "functions": "SELECT proname, pg_get_functiondef(oid) AS def FROM pg_proc"
    " WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2",
    "table grants": "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants"
    " WHERE table_schema = 'public' ORDER BY 1, 2, 3",
    "column grants": "SELECT grantee, table_name, column_name, privilege_type"
    " FROM information_schema.column_privileges WHERE table_schema = 'public' ORDER BY 1, 2, 3, 4",
    "heads": "SELECT version_num FROM alembic_version ORDER BY 1",
}


async def catalog(conn: asyncpg.Connection) -> dict[str, list]:
    out = {name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in CATALOG.items()}
    tables = [r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    out["rows"] = [(t, await conn.fetchval(f'SELECT count(*) FROM "{t}"')) for t in tables]
    return out


async def test_migrations_apply_from_scratch_and_reapply_as_a_no_op(pg_dsn, unique, fresh_db):
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
        # A scratch database (fresh_db: a copy of the migrated template) is this database: the same
        # tables, indexes, constraints, grants, heads and rows; and alembic has nothing left to do there.
        scratch = await asyncpg.connect(fresh_db)
        try:
            assert await catalog(scratch) == await catalog(conn)
        finally:
            await scratch.close()
        assert "Running upgrade" not in alembic(fresh_db, "upgrade", "heads")
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
