"""Per-source credentials of the HTTP push endpoint: the token format, the credential file, and the
decision on a presented token (pure, apart from `load_file` / `save_file`).

A plant system (a SCADA gateway, a weighbridge PC) pushes with `Authorization: Bearer
epdpush.<id>.<secret>`. The id names the credential in the file, so a check costs one hash, not one
per credential. Only an scrypt hash of the secret is stored (epd_common.crypto, the gateway's
parameters: scrypt is memory-hard, so a copied credential file does not give up secrets to a GPU;
the secrets are random 256-bit values, but the file is backed up and copied around like any config).
A credential is scoped to one plant and optionally to some of its meters; it can be revoked (the
connector rereads the file when it changes). `epd connector push-credential add/list/revoke` writes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from epd_common import crypto
from epd_connector.errors import ConnectorError

PREFIX = "epdpush"
_ID = re.compile(r"^[a-z0-9]{16}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PLANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")  # the plant YAML's id rule
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:/@-]{0,99}$")
MAX_FILE_BYTES = 4 * 1024 * 1024
FORMAT_VERSION = 1


class CredentialFileError(ConnectorError):
    """A credential file that cannot be read or written; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class PushCredential:
    id: str
    plant_id: str
    name: str
    secret_hash: str
    created_at: str
    meters: tuple[str, ...] = ()  # empty: every meter of the plant
    revoked_at: str | None = None
    revoked_reason: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["meters"] = list(self.meters)
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> PushCredential:
        if not isinstance(doc, dict):
            raise ValueError("a credential must be an object")
        cred = cls(
            id=str(doc["id"]),
            plant_id=str(doc["plant_id"]),
            name=str(doc["name"]),
            secret_hash=str(doc["secret_hash"]),
            created_at=str(doc["created_at"]),
            meters=tuple(str(m) for m in doc.get("meters") or ()),
            revoked_at=None if doc.get("revoked_at") is None else str(doc["revoked_at"]),
            revoked_reason=None if doc.get("revoked_reason") is None else str(doc["revoked_reason"]),
        )
        if not _ID.match(cred.id) or not _PLANT.match(cred.plant_id):
            raise ValueError(f"credential {cred.id[:20]!r}: bad id or plant id")
        return cred


@dataclasses.dataclass(frozen=True)
class Token:
    id: str
    secret: str


def parse_token(text: str) -> Token | None:
    """The id and secret of a presented token; None for anything not in the token format."""
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not _ID.match(parts[1]) or not _SECRET.match(parts[2]):
        return None
    return Token(parts[1], parts[2])


def new_credential(
    plant_id: str, name: str, meters: Sequence[str] = (), now: dt.datetime | None = None
) -> tuple[str, PushCredential]:
    """(token to hand to the plant once, credential to store)."""
    if not _PLANT.match(plant_id):
        raise ConnectorError(f"plant id {plant_id[:64]!r} is not a valid plant id")
    if not _NAME.match(name):
        raise ConnectorError("a credential name is 1-100 letters, digits, spaces or ._:/@-")
    bad = [m for m in meters if not _PLANT.match(m)]
    if bad:
        raise ConnectorError(f"not meter ids: {bad[:5]}")
    cid = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
    secret = secrets.token_urlsafe(32)  # 256 bits, 43 characters
    when = (now or dt.datetime.now(dt.UTC)).isoformat()
    cred = PushCredential(cid, plant_id, name, crypto.hash_secret(secret), when, tuple(sorted(set(meters))))
    return f"{PREFIX}.{cid}.{secret}", cred


def revoke(
    creds: Sequence[PushCredential], cid: str, reason: str, now: dt.datetime | None = None
) -> list[PushCredential]:
    """The list with `cid` revoked (revoking twice keeps the first time and reason)."""
    if not any(c.id == cid for c in creds):
        raise ConnectorError(f"no credential {cid[:40]!r}")
    when = (now or dt.datetime.now(dt.UTC)).isoformat()
    return [
        dataclasses.replace(c, revoked_at=when, revoked_reason=reason[:500]) if c.id == cid and not c.revoked else c
        for c in creds
    ]


def parse_file(raw: bytes, origin: str) -> dict[str, PushCredential]:
    if len(raw) > MAX_FILE_BYTES:
        raise CredentialFileError(f"{origin}: larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"expected an object with version {FORMAT_VERSION}")
        creds = [PushCredential.from_json(c) for c in doc.get("credentials", [])]
    except (ValueError, KeyError, TypeError) as exc:
        raise CredentialFileError(f"{origin}: not a push credential file: {exc}") from exc
    return {c.id: c for c in creds}


def render_file(creds: Sequence[PushCredential]) -> bytes:
    doc = {"version": FORMAT_VERSION, "credentials": [c.to_json() for c in creds]}
    return (json.dumps(doc, indent=2) + "\n").encode()


def load_file(path: Path) -> dict[str, PushCredential]:
    """The credentials of a file; a missing file holds none (`epd connector push-credential add` makes it)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredentialFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_file(raw, str(path))


def save_file(path: Path, creds: Sequence[PushCredential]) -> None:
    """Replace the file atomically (mode 0600): the connector never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(render_file(creds))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextmanager
def editing(path: Path) -> Iterator[list[PushCredential]]:
    """Read, let the caller change the list in place, write back; one editor at a time (a lock file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        creds = list(load_file(path).values())
        yield creds
        save_file(path, creds)
