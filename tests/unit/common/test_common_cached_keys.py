"""CachedKeys derives the sealing key once and shares one reload among concurrent callers (a reload per
caller, each with its own scrypt, stalled every request in flight when the refresh came due)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from epd_common import crypto, signing_keys

SECRET = "unit-test-key-secret"


class FakePool:
    """Stands in for the pool: the one stored key, sealed as signing_keys seals it; counts the loads."""

    def __init__(self) -> None:
        self.loads = 0
        self.release = asyncio.Event()
        nonce, sealed = crypto.encrypt(signing_keys.sealing_key_of(SECRET), json.dumps({"kid": "k1"}).encode(), b"k1")
        self.row = {
            "kid": "k1",
            "public_jwk": json.dumps({"kid": "k1"}),
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            "retired_at": None,
            "nonce": nonce,
            "ciphertext": sealed,
        }

    async def fetch(self, sql: str) -> list[dict]:
        self.loads += 1
        await self.release.wait()
        return [self.row]


async def test_concurrent_callers_share_one_reload_and_one_derivation(monkeypatch):
    pool = FakePool()
    derived = []
    real = crypto.derive_key
    monkeypatch.setattr(crypto, "derive_key", lambda secret, purpose: derived.append(purpose) or real(secret, purpose))
    cached = signing_keys.CachedKeys(pool, SECRET, 60, lambda stored: stored.kid)  # type: ignore[arg-type]
    callers = [asyncio.create_task(cached.get()) for _ in range(5)]
    await asyncio.sleep(0)
    pool.release.set()
    assert await asyncio.gather(*callers) == ["k1"] * 5
    assert pool.loads == 1 and derived == ["signing-keys"]
    assert await cached.get() == "k1" and pool.loads == 1  # fresh: no reload


async def test_a_refresh_of_zero_reloads_on_every_call_without_deriving_again(monkeypatch):
    pool = FakePool()
    derived = []
    real = crypto.derive_key
    monkeypatch.setattr(crypto, "derive_key", lambda secret, purpose: derived.append(purpose) or real(secret, purpose))
    pool.release.set()
    cached = signing_keys.CachedKeys(pool, SECRET, 0, lambda stored: stored.kid)  # type: ignore[arg-type]
    for _ in range(3):
        assert await cached.get() == "k1"
    assert pool.loads == 3 and derived == ["signing-keys"]
