"""Who is calling the admin API: a bearer API key (admin_users) or the legacy bootstrap token.

Answers are `AdminError`s with bounded codes: 401 `unauthorized` (no bearer, or a malformed key, an
unknown key id or a wrong secret: one answer, so ids cannot be probed; an unknown id costs the same
scrypt as a known one), `user_disabled` (the secret was right, the user is disabled); 403
`forbidden_role`. Each scrypt check runs off the event loop, at most two at once; a key that checked
out is remembered by its SHA-256 (a 256-bit random secret: a fast hash reveals nothing), and the user's
row (roles, disabled) is read on every request, so `epd admin users disable` takes effect at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import asyncpg

from epd_common import crypto

from .admin import AdminError
from .users import BOOTSTRAP, NEEDS, Action, Role, User, parse_key

_UNKNOWN = crypto.hash_secret("not an admin key")
_CACHE_MAX = 1024


class Authenticator:
    def __init__(self, pool: asyncpg.Pool, bootstrap_token: str) -> None:
        if len(bootstrap_token) < 16:
            raise ValueError("EPD_FOOTPRINT_ADMIN_TOKEN must be at least 16 characters")
        self._pool, self._token = pool, bootstrap_token.encode()
        self._hashing = asyncio.Semaphore(2)
        self._verified: dict[bytes, str] = {}  # sha256(key) -> key_id

    async def authenticate(self, presented: str | None) -> User:
        if not presented:
            raise AdminError(401, "unauthorized", "send Authorization: Bearer <API key>")
        raw = presented.encode("utf-8", "surrogateescape")
        if hmac.compare_digest(raw, self._token):  # the head limit bounds `raw` (16 KiB)
            return BOOTSTRAP
        key = parse_key(presented)
        if key is None:
            raise AdminError(401, "unauthorized", "unknown API key or wrong secret")
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT user_id, name, roles, key_hash, disabled_at FROM admin_users WHERE key_id = $1", key.key_id
            )
        digest = hashlib.sha256(raw).digest()
        if row is None or self._verified.get(digest) != key.key_id:
            async with self._hashing:
                stored = row["key_hash"] if row is not None else _UNKNOWN
                ok = await asyncio.to_thread(crypto.check_secret, key.secret, stored)
            if row is None or not ok:
                raise AdminError(401, "unauthorized", "unknown API key or wrong secret")
            if len(self._verified) >= _CACHE_MAX:
                self._verified.clear()
            self._verified[digest] = key.key_id
        if row["disabled_at"] is not None:
            raise AdminError(401, "user_disabled", f"user {row['name']} was disabled at {row['disabled_at']}")
        return User(row["user_id"], row["name"], frozenset(Role(r) for r in row["roles"]))


def require(user: User, action: Action) -> None:
    """403 unless one of the user's roles may do `action`."""
    if not user.may(action):
        needed = " or ".join(sorted(r.value for r in NEEDS[action]))
        have = ", ".join(sorted(r.value for r in user.roles))
        raise AdminError(403, "forbidden_role", f"this needs the {needed} role; {user.name} has {have}")
