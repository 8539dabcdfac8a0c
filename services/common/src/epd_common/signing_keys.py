"""The programme's record-signing keys in PostgreSQL: public JWKs forever, the current private key
sealed apart (AES-256-GCM under a key derived from EPD_RECORDS_KEY_SECRET, bound to its kid).

The key material is handled here as JWK dicts only; building a key ring from it is the record
model's job (`epd_records.signing.KeyRing.from_stored`). The gateway serves with these keys, the
publisher signs pushed records with them, `epd gateway rotate-key` rotates them.

`rotate` makes a fresh key current and retires the old one: its private part is deleted, its
public part stays, so records signed before a rotation keep verifying. `CachedKeys` reloads at
most every `refresh_seconds`, so running services pick up a rotation done through the CLI; it derives
the sealing key (scrypt, deliberately slow) once, and concurrent callers share one reload.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from epd_common import crypto

_PURPOSE = "signing-keys"
T = TypeVar("T")


class SigningKeyError(crypto.CryptoError):
    """No usable current signing key (none created yet, or it does not decrypt)."""


@dataclass(frozen=True)
class StoredKeys:
    kid: str
    created_at: datetime
    private_jwk: dict[str, Any]  # the current key, with its private part
    retired_public_jwks: tuple[dict[str, Any], ...]  # newest first
    retired_at: tuple[datetime, ...] = ()  # when each retired key stopped being current (same order)

    def retired_since(self) -> dict[str, float]:
        """kid -> when that key was retired (Unix time)."""
        return {
            str(jwk.get("kid")): at.timestamp()
            for jwk, at in zip(self.retired_public_jwks, self.retired_at, strict=True)
        }


async def _make_current(
    conn: asyncpg.Connection | PoolConnectionProxy,
    key_secret: str,
    kid: str,
    private_jwk: Mapping[str, Any],
    public_jwk: Mapping[str, Any],
) -> None:
    enc_key = sealing_key_of(key_secret)
    nonce, sealed = crypto.encrypt(enc_key, json.dumps(dict(private_jwk)).encode(), kid.encode())
    await conn.execute("DELETE FROM gateway_signing_private")
    await conn.execute("UPDATE gateway_signing_keys SET retired_at = now() WHERE retired_at IS NULL")
    await conn.execute(
        "INSERT INTO gateway_signing_keys (kid, public_jwk) VALUES ($1, $2::jsonb)", kid, json.dumps(dict(public_jwk))
    )
    await conn.execute(
        "INSERT INTO gateway_signing_private (kid, nonce, ciphertext) VALUES ($1, $2, $3)", kid, nonce, sealed
    )


async def rotate(
    pool: asyncpg.Pool, key_secret: str, kid: str, private_jwk: Mapping[str, Any], public_jwk: Mapping[str, Any]
) -> str:
    """Retire the current key (if any) and make the given one current; returns its kid."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE gateway_signing_keys IN EXCLUSIVE MODE")
        await _make_current(conn, key_secret, kid, private_jwk, public_jwk)
    return kid


async def current_kid(pool: asyncpg.Pool) -> str | None:
    kid: str | None = await pool.fetchval("SELECT kid FROM gateway_signing_keys WHERE retired_at IS NULL")
    return kid


async def load(pool: asyncpg.Pool, key_secret: str, *, sealing_key: bytes | None = None) -> StoredKeys:
    """The stored keys, the current private key unsealed (`sealing_key`: `sealing_key_of(key_secret)`,
    when the caller keeps it)."""
    rows = await pool.fetch("""
        SELECT k.kid, k.public_jwk, k.created_at, k.retired_at, p.nonce, p.ciphertext
        FROM gateway_signing_keys k LEFT JOIN gateway_signing_private p USING (kid)
        ORDER BY k.created_at DESC, k.kid""")
    current = next((r for r in rows if r["retired_at"] is None), None)
    if current is None or current["ciphertext"] is None:
        raise SigningKeyError("no current signing key: run `epd gateway rotate-key`")
    enc_key = sealing_key_of(key_secret) if sealing_key is None else sealing_key
    try:
        private = json.loads(crypto.decrypt(enc_key, current["nonce"], current["ciphertext"], current["kid"].encode()))
    except crypto.DecryptError:
        raise SigningKeyError(
            "the current signing key does not decrypt: EPD_RECORDS_KEY_SECRET differs from the secret it was "
            "sealed with, or the row was altered"
        ) from None
    others = [r for r in rows if r["kid"] != current["kid"]]
    return StoredKeys(
        current["kid"],
        current["created_at"],
        private,
        tuple(_jwk(r["public_jwk"]) for r in others),
        tuple(r["retired_at"] for r in others),
    )


def _jwk(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def sealing_key_of(key_secret: str) -> bytes:
    """The AES key the current private key is sealed with (scrypt: tens of milliseconds of CPU)."""
    return crypto.derive_key(key_secret, _PURPOSE)


class CachedKeys(Generic[T]):
    """`build(load(...))`, reloaded from the database at most every `refresh_seconds`.

    `on_new_current` is called with the stored keys whenever the current kid changes (e.g. to
    export the key's expiry)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        key_secret: str,
        refresh_seconds: float,
        build: Callable[[StoredKeys], T],
        on_new_current: Callable[[StoredKeys], None] | None = None,
    ) -> None:
        self._pool, self._secret, self._refresh, self._build = pool, key_secret, refresh_seconds, build
        self._on_new = on_new_current
        self._value: T | None = None
        self._kid: str | None = None
        self._loaded = 0.0
        self._sealing: bytes | None = None
        self._reload = asyncio.Lock()  # one reload at a time; the others wait for its result

    async def get(self) -> T:
        started = time.monotonic()
        if self._value is not None and started - self._loaded < self._refresh:
            return self._value
        async with self._reload:
            if self._value is not None and self._loaded >= started and self._refresh > 0:
                return self._value  # reloaded while this call waited
            if self._sealing is None:
                self._sealing = sealing_key_of(self._secret)
            stored = await load(self._pool, self._secret, sealing_key=self._sealing)
            value = self._build(stored)
            if stored.kid != self._kid and self._on_new is not None:
                self._on_new(stored)
            self._value, self._kid, self._loaded = value, stored.kid, time.monotonic()
        return self._value


KeyFactory = Callable[[], tuple[str, dict[str, Any], dict[str, Any]]]


async def ensure(pool: asyncpg.Pool, key_secret: str, new_key: KeyFactory) -> str:
    """The current kid; on first start, the key `new_key() -> (kid, private_jwk, public_jwk)` becomes
    current. Checked under the table lock, so two services starting together make one key."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE gateway_signing_keys IN EXCLUSIVE MODE")
        kid: str | None = await conn.fetchval("SELECT kid FROM gateway_signing_keys WHERE retired_at IS NULL")
        if kid is None:
            kid, private, public = new_key()
            await _make_current(conn, key_secret, kid, private, public)
    return kid


__all__ = ["CachedKeys", "KeyFactory", "SigningKeyError", "StoredKeys", "current_kid", "ensure", "load", "rotate"]
