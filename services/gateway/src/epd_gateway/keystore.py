"""Signing keys in PostgreSQL: public JWKs forever, the current private key encrypted apart.

`rotate_key` makes a fresh key current and retires the old one (its private part is deleted, its
public part stays in the JWKS so earlier records keep verifying). `CachedKeyRing` reloads the ring
every `refresh_seconds`, so a running gateway picks up a rotation done through the CLI.
"""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg
from joserfc.jwk import OKPKey

from epd_gateway import secrets
from epd_gateway.observability import export_key_expiry
from epd_gateway.signing import KeyRing, generate_key

_PURPOSE = "signing-keys"


async def _insert_current(conn: asyncpg.Connection, key: OKPKey, enc_key: bytes) -> None:
    kid = str(key.kid)
    public = key.as_dict(private=False)
    nonce, ct = secrets.encrypt(enc_key, json.dumps(key.as_dict(private=True)).encode(), kid.encode())
    await conn.execute(
        "INSERT INTO gateway_signing_keys (kid, public_jwk) VALUES ($1, $2::jsonb)", kid, json.dumps(public)
    )
    await conn.execute(
        "INSERT INTO gateway_signing_private (kid, nonce, ciphertext) VALUES ($1, $2, $3)", kid, nonce, ct
    )


async def rotate_key(pool: asyncpg.Pool, key_secret: str) -> str:
    """Retire the current key (if any) and make a new one current; returns the new kid."""
    enc_key = secrets.derive_key(key_secret, _PURPOSE)
    key = generate_key()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE gateway_signing_keys IN EXCLUSIVE MODE")
        await conn.execute("DELETE FROM gateway_signing_private")
        await conn.execute("UPDATE gateway_signing_keys SET retired_at = now() WHERE retired_at IS NULL")
        await _insert_current(conn, key, enc_key)
    return str(key.kid)


async def ensure_key(pool: asyncpg.Pool, key_secret: str) -> str:
    """Create the first key when none exists (first start); returns the current kid."""
    kid = await pool.fetchval("SELECT kid FROM gateway_signing_keys WHERE retired_at IS NULL")
    return kid or await rotate_key(pool, key_secret)


async def load_key_ring(pool: asyncpg.Pool, key_secret: str) -> KeyRing:
    rows = await pool.fetch("""
        SELECT k.kid, k.public_jwk, k.retired_at, p.nonce, p.ciphertext
        FROM gateway_signing_keys k LEFT JOIN gateway_signing_private p USING (kid)
        ORDER BY k.created_at DESC""")
    current = next((r for r in rows if r["retired_at"] is None), None)
    if current is None or current["ciphertext"] is None:
        raise LookupError("no current signing key: run `epd gateway rotate-key`")
    enc_key = secrets.derive_key(key_secret, _PURPOSE)
    private = json.loads(secrets.decrypt(enc_key, current["nonce"], current["ciphertext"], current["kid"].encode()))
    retired = tuple(OKPKey.import_key(_jwk(r["public_jwk"])) for r in rows if r["kid"] != current["kid"])
    return KeyRing(OKPKey.import_key(private), retired)


def _jwk(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


class CachedKeyRing:
    """The key ring, reloaded from the database at most every `refresh_seconds`."""

    def __init__(
        self, pool: asyncpg.Pool, key_secret: str, refresh_seconds: float, max_age_days: float | None = None
    ) -> None:
        self._pool, self._secret, self._refresh = pool, key_secret, refresh_seconds
        self._max_age_days = max_age_days
        self._ring: KeyRing | None = None
        self._loaded = 0.0

    async def get(self) -> KeyRing:
        now = time.monotonic()
        if self._ring is None or now - self._loaded >= self._refresh:
            ring = await load_key_ring(self._pool, self._secret)
            if self._max_age_days is not None and (self._ring is None or ring.kid != self._ring.kid):
                created = await self._pool.fetchval(
                    "SELECT created_at FROM gateway_signing_keys WHERE kid = $1", ring.kid
                )
                export_key_expiry(ring.kid, created, self._max_age_days)
            self._ring, self._loaded = ring, now
        return self._ring
