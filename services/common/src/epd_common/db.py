"""asyncpg pool and a transaction helper."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60)


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool, isolation: str = "read_committed") -> AsyncIterator[asyncpg.Connection]:
    """One connection inside one transaction: committed on normal exit, rolled back on any exception."""
    async with pool.acquire() as conn, conn.transaction(isolation=isolation):
        yield conn
