"""asyncpg pool and a transaction helper."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Literal, cast

import asyncpg

from . import audit_context

Isolation = Literal["read_committed", "read_uncommitted", "serializable", "repeatable_read"]

#: Errors that say the database, or the way to it, failed, not the statement or the data: retry later,
#: never a reason to set a record aside as poison (epd_common.dead_letters). Connection lost or refused
#: (OSError, class 08), client-side interface errors, operator intervention (shutdown, cannot connect now),
#: insufficient resources (too many connections), transaction rollbacks (serialization failure,
#: deadlock) and timeouts.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.TransactionRollbackError,
)


async def create_pool(
    dsn: str,
    min_size: int = 1,
    max_size: int = 10,
    *,
    actor: str | None = None,
    settings: dict[str, str] | None = None,
    reset_sessions: bool = True,
) -> asyncpg.Pool:
    """`actor`: who the audit log names for this pool's changes (default: the database role); a task that
    calls `audit_context.act_as` (a request) is named instead on the connections it acquires. `settings`:
    more PostgreSQL settings for every connection of the pool. `reset_sessions=False` for pools whose
    users never change session state (no act_as, SET, LISTEN or advisory locks): a released connection
    skips asyncpg's reset query, one round trip per release (an open transaction is still rolled back)."""
    server = {**(audit_context.server_settings(actor) if actor else {}), **(settings or {})}
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=60,
        setup=audit_context.apply,
        server_settings=server or None,
        reset=None if reset_sessions else _keep_session,
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pool's `reset` that leaves the session as it is (asyncpg rolls back open transactions first)."""


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool, isolation: Isolation = "read_committed") -> AsyncIterator[asyncpg.Connection]:
    """One connection inside one transaction: committed on normal exit, rolled back on any exception."""
    async with pool.acquire() as conn, conn.transaction(isolation=isolation):
        # The pool's proxy forwards every Connection method to the connection it holds; typed as that
        # Connection, so repositories take one connection type whether they run in a pool or not.
        yield cast(asyncpg.Connection, conn)
