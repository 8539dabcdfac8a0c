"""Scratch databases for tests and benchmarks: created, migrated to every head, dropped."""

from __future__ import annotations

import asyncio

import asyncpg

from .stack import migrate


def sibling_dsn(dsn: str, name: str) -> str:
    """The DSN of database `name` on the same server and credentials as `dsn`."""
    return dsn.rsplit("/", 1)[0] + f"/{name}"


async def create_migrated_database(admin_dsn: str, name: str) -> str:
    """CREATE DATABASE `name` (which must not exist) and apply every migration; returns its DSN."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = sibling_dsn(admin_dsn, name)
    await asyncio.to_thread(migrate, dsn)
    return dsn


async def drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
