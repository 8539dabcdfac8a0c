"""admin_users rows: create (the key is returned once, only its scrypt hash is stored), list, disable."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg

from epd_common import crypto

from .errors import FootprintError
from .users import NAME, Role, new_key, new_user_id


class UserError(FootprintError):
    """A user that cannot be created or found (the CLI prints it)."""


@dataclasses.dataclass(frozen=True)
class NewUser:
    user_id: str
    name: str
    roles: list[str]
    api_key: str  # shown once


async def add_user(pool: asyncpg.Pool, name: str, roles: frozenset[Role]) -> NewUser:
    if not NAME.fullmatch(name):
        raise UserError("a user name is 1-100 characters without control characters")
    text, key = new_key()
    key_hash = await asyncio.to_thread(crypto.hash_secret, key.secret)
    user_id, ordered = new_user_id(), sorted(r.value for r in roles)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO admin_users (user_id, name, roles, key_id, key_hash) VALUES ($1, $2, $3, $4, $5)",
                user_id,
                name,
                ordered,
                key.key_id,
                key_hash,
            )
    except asyncpg.UniqueViolationError:
        raise UserError(f"a user named {name!r} exists") from None
    return NewUser(user_id, name, ordered, text)


async def list_users(pool: asyncpg.Pool) -> list[dict]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT user_id, name, roles, key_id, created_at, disabled_at FROM admin_users ORDER BY name"
        )
    return [dict(r) for r in rows]


async def disable_user(pool: asyncpg.Pool, name: str) -> dict:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """UPDATE admin_users SET disabled_at = coalesce(disabled_at, now()) WHERE name = $1
               RETURNING user_id, name, disabled_at""",
            name,
        )
    if row is None:
        raise UserError(f"no user named {name!r}")
    return dict(row)
