"""Who changes the registry, and why: the actor and reason the audit log records
(db/migrations/versions/0011_audit_log.py).

The audit trigger reads the PostgreSQL settings `epd.actor` and `epd.reason` of the writing
transaction (without them: the database role, no reason). Three ways to set them:

- a request sets them for everything it does: `act_as(actor)` and `because(reason)` set context
  variables that every connection acquired from a pool made by `epd_common.db.create_pool` applies
  (`apply`, the pool's setup hook) until it goes back to the pool (asyncpg resets it then);
- a process sets them for its whole life: `server_settings(actor)` at connect (the CLI);
- one transaction sets them itself: `await acting(conn, actor, reason)`.
"""

from __future__ import annotations

import getpass
import re
from contextvars import ContextVar
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

_ACTOR: ContextVar[str | None] = ContextVar("epd_audit_actor", default=None)
_REASON: ContextVar[str | None] = ContextVar("epd_audit_reason", default=None)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean(text: str, limit: int = 500) -> str:
    """Actors and reasons as the log keeps them: no control characters, at most `limit` characters."""
    return _CONTROL.sub(" ", text)[:limit]


def act_as(actor: str) -> None:
    """Record `actor` for every change the current task (one request) makes from here on."""
    _ACTOR.set(clean(actor, 200))


def because(reason: str | None) -> None:
    """Record `reason` with every change the current task makes from here on."""
    _REASON.set(None if reason is None else clean(reason))


def current() -> tuple[str | None, str | None]:
    return _ACTOR.get(), _REASON.get()


async def apply(conn: PoolConnectionProxy[Any]) -> None:
    """Pool setup hook: a connection acquired by a task that has an actor records it (session-level,
    reset when the connection is released); nothing at all for tasks without one."""
    actor, reason = current()
    if actor is not None:
        await conn.execute(
            "SELECT set_config('epd.actor', $1, false), set_config('epd.reason', $2, false)", actor, reason or ""
        )


async def acting(conn: asyncpg.Connection, actor: str, reason: str | None = None) -> None:
    """Inside a transaction: record `actor` (and `reason`) for its changes."""
    await conn.execute(
        "SELECT set_config('epd.actor', $1, true), set_config('epd.reason', $2, true)",
        clean(actor, 200),
        "" if reason is None else clean(reason),
    )


def cli_actor() -> str:
    """The operator at a terminal: `cli:<login name>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return clean(f"cli:{user}", 200)


def server_settings(actor: str | None = None) -> dict[str, str]:
    """asyncpg `server_settings` that record `actor` (default: the CLI's operator) for a whole connection."""
    return {"epd.actor": clean(actor or cli_actor(), 200)}
