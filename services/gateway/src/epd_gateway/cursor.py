"""Opaque, encrypted pagination cursors for /3/footprints.

A cursor holds the position (created_at, pf_id) of the last row scanned in the stable order
(created_at, pf_id), a digest of the filters and the client id it was issued to, and an expiry.
Walking by position (keyset pagination) means records published during a walk land after the end
and never shift earlier pages: no gap and no repeat.

The last row scanned may be a record the client cannot read (a page ends where the scan stopped),
so the cursor is sealed, not just signed: AES-256-GCM (``epd_common.crypto``) under the gateway's
cursor key (derived from EPD_RECORDS_KEY_SECRET for the purpose "cursor"), a random nonce per
cursor, and additional data naming this format. The client sees only ``v1 || nonce || ciphertext``
in base64url: neither the id nor the time of that row, and any change to a byte fails to open.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime

from epd_common import crypto
from epd_gateway.errors import GatewayError

_VERSION = b"\x01"
_AAD = b"epd-gateway/cursor/v1"
_NONCE = 12


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
    nonce, sealed = crypto.encrypt(key, body, _AAD)
    return base64.urlsafe_b64encode(_VERSION + nonce + sealed).rstrip(b"=").decode()


def decode(key: bytes, token: str, digest: str, now: float | None = None) -> Position:
    if not isinstance(token, str) or not 0 < len(token) <= 400:
        raise CursorError("cursor is malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise CursorError("cursor is malformed") from None
    if len(raw) <= 1 + _NONCE + 16 or raw[:1] != _VERSION:
        raise CursorError("cursor is not one this gateway issued")
    try:
        body = crypto.decrypt(key, raw[1 : 1 + _NONCE], raw[1 + _NONCE :], _AAD)
        created, pf_id, got_digest, exp = json.loads(body)
        position = Position(datetime.fromisoformat(created), str(pf_id))
    except crypto.DecryptError:
        raise CursorError("cursor is not one this gateway issued") from None
    except (ValueError, TypeError):  # sealed by this key but not this format: never issued by this code
        raise CursorError("cursor is not one this gateway issued") from None
    if got_digest != digest:
        raise CursorError("cursor belongs to another client or other filters")
    if (time.time() if now is None else now) > exp:
        raise CursorError("cursor has expired; start the listing again")
    return position
