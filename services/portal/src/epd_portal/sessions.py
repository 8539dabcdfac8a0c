"""Operators' sessions: a cookie sealed with AES-256-GCM (epd_common.crypto) under a key derived from
EPD_RECORDS_KEY_SECRET for this purpose only. It holds the operator's own admin token (the portal
keeps none: approvals go to the footprint admin API with it), the verifier name, an expiry and a
CSRF token that every operator form must echo."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from epd_common import crypto

COOKIE = "epd_portal_session"
_AAD = b"epd-portal-session/1"


@dataclass(frozen=True)
class Session:
    token: str
    verifier: str
    expires: float
    csrf: str

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


class SessionSealer:
    def __init__(self, key_secret: str, lifetime_seconds: float) -> None:
        self._key = crypto.derive_key(key_secret, "portal-session")
        self.lifetime = lifetime_seconds

    def new(self, token: str, verifier: str, now: float | None = None) -> Session:
        return Session(token, verifier, (now or time.time()) + self.lifetime, secrets.token_urlsafe(24))

    def seal(self, session: Session) -> str:
        body = json.dumps({"t": session.token, "v": session.verifier, "e": session.expires, "c": session.csrf})
        nonce, sealed = crypto.encrypt(self._key, body.encode(), _AAD)
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session, or None when there is none, it does not decrypt or it has expired."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
            data = json.loads(crypto.decrypt(self._key, raw[:12], raw[12:], _AAD))
            session = Session(str(data["t"]), str(data["v"]), float(data["e"]), str(data["c"]))
        except (ValueError, KeyError, TypeError, crypto.CryptoError):
            return None
        return session if session.expires > (now or time.time()) else None
