"""The gateway's view of the programme's record-signing keys (stored by epd_common.signing_keys):
a key ring reloaded every EPD_GATEWAY_KEY_REFRESH_SECONDS, with the current key's expiry exported."""

from __future__ import annotations

import asyncpg

from epd_common import signing_keys
from epd_gateway.observability import export_key_expiry
from epd_records.signing import KeyRing, new_stored_key


def key_ring(stored: signing_keys.StoredKeys) -> KeyRing:
    return KeyRing.from_stored(stored.private_jwk, stored.retired_public_jwks, stored.retired_since())


async def ensure_key(pool: asyncpg.Pool, key_secret: str) -> str:
    """Create the first key when none exists (first start); returns the current kid."""
    return await signing_keys.ensure(pool, key_secret, new_stored_key)


async def rotate_key(pool: asyncpg.Pool, key_secret: str) -> str:
    """Retire the current key and make a fresh one current; returns the new kid."""
    kid, private, public = new_stored_key()
    return await signing_keys.rotate(pool, key_secret, kid, private, public)


async def load_key_ring(pool: asyncpg.Pool, key_secret: str) -> KeyRing:
    return key_ring(await signing_keys.load(pool, key_secret))


def cached_key_ring(
    pool: asyncpg.Pool, key_secret: str, refresh_seconds: float, max_age_days: float | None = None
) -> signing_keys.CachedKeys[KeyRing]:
    def exported(stored: signing_keys.StoredKeys) -> None:
        if max_age_days is not None:
            export_key_expiry(stored.kid, stored.created_at, max_age_days)

    return signing_keys.CachedKeys(pool, key_secret, refresh_seconds, key_ring, exported)
