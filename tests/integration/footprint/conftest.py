"""Fixtures of the footprint integration tests."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="module")
async def module_db(pg_dsn):
    """One migrated database for a module whose tests leave it as they found it (or change only
    what no other test of the module reads): the setup is paid once."""
    from epd_devstack.databases import create_migrated_database, drop_database

    name = f"t_m{uuid.uuid4().hex[:10]}"
    dsn = await create_migrated_database(pg_dsn, name)
    try:
        yield dsn
    finally:
        await drop_database(pg_dsn, name)
