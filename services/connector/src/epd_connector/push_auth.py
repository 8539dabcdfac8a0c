"""Who may push: the check of an `Authorization` header against the credential file, before the body
is read. Answers are reason codes (bounded: the `reason` label of epd_connector_input_refused_total):

- 401 `credential_missing`, `credential_wrong_scheme` (not Bearer), `credential_malformed` (not a push
  token), `credential_invalid` (unknown id or wrong secret: one answer, so ids cannot be probed),
  `credential_revoked` (the secret was right, the credential is revoked);
- 403 `wrong_plant` (a credential of another plant), `meter_not_allowed` (checked by the route, once it
  knows the readings' meters).

The file is stat-ed on every request and reread when it changed, so `push-credential revoke` takes effect
without a restart; a file that disappears or breaks refuses everyone (fail closed) until it is fixed.
Each scrypt check runs off the event loop, at most two at once (a flood of bad tokens costs bounded CPU
and never stalls the MQTT or OPC UA sources). A token that checked out once is remembered by its SHA-256
(a 256-bit random secret: a fast hash of it reveals nothing) until the file changes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
from pathlib import Path

from epd_common import crypto
from epd_connector import metrics
from epd_connector.errors import ConnectorError
from epd_connector.push_credentials import PushCredential, load_file, parse_token

log = logging.getLogger(__name__)
MAX_HEADER = 512  # a push token is 68 characters
# An unknown id costs the same scrypt as a known one (the answer time does not tell ids apart).
_UNKNOWN = crypto.hash_secret("not a credential")


@dataclasses.dataclass(frozen=True)
class Refusal:
    status: int
    reason: str
    message: str


class PushAuthenticator:
    def __init__(self, path: Path, plant_id: str) -> None:
        if not path.is_file():
            raise ConnectorError(
                f"{path}: the push credential file does not exist; create it with `epd connector push-credential add`"
            )
        self._path, self._plant_id = path, plant_id
        self._stamp: tuple[int, int, int] | None = None
        self._creds: dict[str, PushCredential] = {}
        self._verified: dict[bytes, str] = {}  # sha256(token) -> credential id, cleared on every reload
        self._hashing = asyncio.Semaphore(2)
        self._refresh()

    def _refresh(self) -> None:
        try:
            st = os.stat(self._path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if stamp == self._stamp and stamp is not None:
            return
        self._verified.clear()
        self._stamp = stamp
        try:
            self._creds = load_file(self._path) if stamp is not None else {}
        except ConnectorError as exc:
            self._creds = {}
            log.error("push credentials unusable, refusing every push until fixed: %s", exc)
        if stamp is None:
            log.error("push credential file %s is gone; refusing every push", self._path)

    async def authenticate(self, header: str | None) -> PushCredential | Refusal:
        """The credential behind a valid header for this plant, else the refusal (counted)."""
        out = await self._check(header)
        if isinstance(out, Refusal):
            refused(out.reason)
        return out

    async def _check(self, header: str | None) -> PushCredential | Refusal:
        if not header or not header.strip():
            return Refusal(401, "credential_missing", "send Authorization: Bearer <push token>")
        if len(header) > MAX_HEADER:
            return Refusal(401, "credential_malformed", "the Authorization header is too long for a push token")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return Refusal(401, "credential_wrong_scheme", "use the Bearer scheme with a push token")
        token = parse_token(value.strip())
        if token is None:
            return Refusal(401, "credential_malformed", "the bearer value is not a push token (epdpush.<id>.<secret>)")
        self._refresh()
        digest = hashlib.sha256(value.strip().encode()).digest()
        cred = self._creds.get(token.id)
        if self._verified.get(digest) != token.id or cred is None:
            async with self._hashing:
                stamp = self._stamp
                ok = await asyncio.to_thread(crypto.check_secret, token.secret, cred.secret_hash if cred else _UNKNOWN)
            if cred is None or not ok:
                return Refusal(401, "credential_invalid", "unknown push credential or wrong secret")
            if stamp == self._stamp:  # not across a reload: the credential checked may have changed since
                self._verified[digest] = token.id
        if cred.revoked:
            return Refusal(401, "credential_revoked", f"push credential {cred.id} was revoked at {cred.revoked_at}")
        if cred.plant_id != self._plant_id:
            return Refusal(403, "wrong_plant", f"push credential {cred.id} is for another plant")
        return cred


def refused(reason: str, source: str = "http") -> None:
    metrics.INPUT_REFUSED.labels(source, reason).inc()


def meters_refused(cred: PushCredential, meter_ids: list[str]) -> Refusal | None:
    """A credential scoped to some meters may push only theirs."""
    if not cred.meters:
        return None
    outside = sorted(set(meter_ids) - set(cred.meters))
    if not outside:
        return None
    refused("meter_not_allowed")
    return Refusal(403, "meter_not_allowed", f"push credential {cred.id} may not push meters {outside[:5]}")
