"""asyncpg pool and a transaction helper."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Literal, cast

import asyncpg

Isolation = Literal["read_committed", "read_uncommitted", "serializable", "repeatable_read"]


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60)


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool, isolation: Isolation = "read_committed") -> AsyncIterator[asyncpg.Connection]:
    """One connection inside one transaction: committed on normal exit, rolled back on any exception."""
    async with pool.acquire() as conn, conn.transaction(isolation=isolation):
        # The pool's proxy forwards every Connection method to the connection it holds; typed as that
        # Connection, so repositories take one connection type whether they run in a pool or not.
        yield cast(asyncpg.Connection, conn)
