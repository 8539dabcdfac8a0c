"""Alembic environment: online migrations through SQLAlchemy's asyncpg dialect.

Revisions are plain SQL (op.execute, or sql.script for multi-statement scripts) so the schema reads as
PostgreSQL, not as ORM models.
Each issue's tables live in their own revision; `upgrade heads` applies every branch.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

# Revisions import `sql.script` from this folder.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def _url() -> str:
    dsn = os.environ.get("EPD_PG_DSN")
    if not dsn:
        raise RuntimeError("EPD_PG_DSN is not set")
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def _run(connection) -> None:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
