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


async def drop_database(admin_dsn: str, name: str, attempts: int = 20) -> None:
    """DROP DATABASE ... WITH (FORCE). FORCE ends the other sessions on it, but not an autovacuum
    worker that happens to be there (it belongs to no role, so the server refuses: "must be a
    member of the role whose process is being terminated"); that worker is done within moments,
    so the drop is tried again, a few seconds at most."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        for attempt in range(attempts):
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except asyncpg.InsufficientPrivilegeError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.25)
    finally:
        await admin.close()
