"""Scratch databases for tests and benchmarks: created migrated to every head, dropped.

Migrating a new database runs alembic in a subprocess (seconds, more on a busy machine); the suite
makes dozens. So the first one migrates a template database, named after a digest of db/ (every
revision, the alembic environment), and each scratch database is then a copy of it (CREATE DATABASE
... TEMPLATE, a fraction of a second). A checkout with other revisions has another digest and so its
own template: a template is never used for revisions it was not migrated with."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg

from .kafka import REPO
from .stack import migrate

TEMPLATE_PREFIX = "epd_tmpl_"
# pg_advisory_lock key held while a template is built, so concurrent test sessions build it once.
_TEMPLATE_LOCK = 0x65706474  # "epdt"


def sibling_dsn(dsn: str, name: str) -> str:
    """The DSN of database `name` on the same server and credentials as `dsn`."""
    return dsn.rsplit("/", 1)[0] + f"/{name}"


def migrations_digest() -> str:
    """A digest of everything `alembic upgrade heads` reads in db/ (revisions import nothing else)."""
    digest = hashlib.sha256()
    root = REPO / "db"
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


async def migrated_template(admin_dsn: str) -> str:
    """The name of a template database migrated to every head of this checkout, built on first use.

    It is built under a temporary name and renamed when complete, so a template that exists is whole;
    it refuses connections (ALLOW_CONNECTIONS false): nobody can change it, and nobody connected to it
    can make CREATE DATABASE ... TEMPLATE fail."""
    name = TEMPLATE_PREFIX + migrations_digest()
    admin = await asyncpg.connect(admin_dsn)
    try:
        if await _is_template(admin, name):
            return name
        await admin.execute("SELECT pg_advisory_lock($1)", _TEMPLATE_LOCK)
        try:
            if await _is_template(admin, name):  # built by another session while this one waited
                return name
            building = name + "_building"
            await _drop(admin, building)  # left by an interrupted build
            await admin.execute(f'CREATE DATABASE "{building}"')
            await asyncio.to_thread(migrate, sibling_dsn(admin_dsn, building))
            await admin.execute(f'ALTER DATABASE "{building}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
            await admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        finally:
            await admin.execute("SELECT pg_advisory_unlock($1)", _TEMPLATE_LOCK)
    finally:
        await admin.close()
    return name


async def _is_template(admin: asyncpg.Connection, name: str) -> bool:
    return bool(await admin.fetchval("SELECT datistemplate FROM pg_database WHERE datname = $1", name))


async def create_migrated_database(admin_dsn: str, name: str) -> str:
    """CREATE DATABASE `name` (which must not exist) with every migration applied; returns its DSN.

    A copy of the migrated template (`migrated_template`): the same schema, grants and rows as
    migrating it, without running alembic again."""
    template = await migrated_template(admin_dsn)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    return sibling_dsn(admin_dsn, name)


async def drop_database(admin_dsn: str, name: str, attempts: int = 20) -> None:
    """DROP DATABASE ... WITH (FORCE). FORCE ends the other sessions on it, but not an autovacuum
    worker that happens to be there (it belongs to no role, so the server refuses: "must be a
    member of the role whose process is being terminated"); that worker is done within moments,
    so the drop is tried again, a few seconds at most."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        await _drop(admin, name, attempts)
    finally:
        await admin.close()


async def _drop(admin: asyncpg.Connection, name: str, attempts: int = 20) -> None:
    for attempt in range(attempts):
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.InsufficientPrivilegeError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.25)
