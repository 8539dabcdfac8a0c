"""Opaque, MAC-protected pagination cursors for /3/footprints.

A cursor holds the position (created_at, pf_id) of the last record served in the stable order
(created_at, pf_id), a digest of the filters and the client id it was issued to, and an expiry.
Walking by position (keyset pagination) means records published during a walk land after the end
and never shift earlier pages: no gap and no repeat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime

from epd_gateway.errors import GatewayError


class CursorError(GatewayError):
    pass


@dataclass(frozen=True)
class Position:
    created_at: datetime
    pf_id: str


def filters_digest(client_id: str, filters: dict[str, object]) -> str:
    blob = json.dumps([client_id, filters], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def encode(key: bytes, position: Position, digest: str, ttl_seconds: int, now: float | None = None) -> str:
    exp = int((time.time() if now is None else now) + ttl_seconds)
    body = json.dumps([position.created_at.isoformat(), position.pf_id, digest, exp], separators=(",", ":")).encode()
    mac = hmac.new(key, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()


def decode(key: bytes, token: str, digest: str, now: float | None = None) -> Position:
    if not isinstance(token, str) or not 0 < len(token) <= 400:
        raise CursorError("cursor is malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise CursorError("cursor is malformed") from None
    body, mac = raw[:-16], raw[-16:]
    if len(raw) <= 16 or not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()[:16]):
        raise CursorError("cursor is not one this gateway issued")
    created, pf_id, got_digest, exp = json.loads(body)
    if got_digest != digest:
        raise CursorError("cursor belongs to another client or other filters")
    if (time.time() if now is None else now) > exp:
        raise CursorError("cursor has expired; start the listing again")
    return Position(datetime.fromisoformat(created), pf_id)
