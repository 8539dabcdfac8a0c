"""The plant's signing key as the connector holds it: one private key file, its key id, and rotation.

Key ids. A key registered without an id chosen by the operator is named by its public key: `ed25519-`
and the first 32 hex digits of its RFC 7638 JWK thumbprint (SHA-256; joserfc computes it). So the key
file alone says which key signs, a rotation needs no second file kept in step with it, and a key id
can never name other key material. A plant YAML may still pin `key_id` (plants registered before key
ids were thumbprints); such a plant rotates by registering the new key under a new pinned id.

Rotation replaces the key file atomically (write, fsync, rename). `KeyFile.current()` looks at the file
before each batch is signed (one stat) and re-reads it when it changed, so a running connector signs
with the new key from its next batch on; a file that cannot be read as a key is logged, counted and
ignored, and the connector keeps signing with the key it had.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc.jwk import OKPKey

from epd_connector import metrics
from epd_connector.signing import (
    KeyLoadError,
    load_private_key,
    private_key_to_pem,
    public_key_to_pem,
    public_key_to_raw,
)

log = logging.getLogger(__name__)

KEY_ID_PREFIX = "ed25519-"


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """`ed25519-` + the first 128 bits (hex) of the key's RFC 7638 JWK SHA-256 thumbprint."""
    x = base64.urlsafe_b64encode(public_key_to_raw(public_key)).rstrip(b"=").decode()
    thumbprint = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x}).thumbprint()
    digest = base64.urlsafe_b64decode(thumbprint + "=" * (-len(thumbprint) % 4))
    return KEY_ID_PREFIX + digest.hex()[:32]


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    key_id: str


def _stamp(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)  # follows symlinks: a Kubernetes Secret volume swaps a symlink on update
    return st.st_ino, st.st_mtime_ns, st.st_size


class KeyFile:
    """The connector's private key file, re-read when it changes (see the module docstring)."""

    def __init__(self, path: Path, pinned_key_id: str | None = None) -> None:
        self.path = path
        self._pinned = pinned_key_id
        self._stamp = _stamp(path)
        self._key = self._load()

    def _load(self) -> SigningKey:
        private = load_private_key(self.path.read_bytes())
        return SigningKey(private, self._pinned or key_id_for(private.public_key()))

    def current(self) -> SigningKey:
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            return self._keep(f"cannot stat it: {exc}")
        if stamp == self._stamp:
            return self._key
        try:
            loaded = self._load()
        except (OSError, KeyLoadError) as exc:
            return self._keep(str(exc))
        self._stamp = stamp
        if self._pinned and public_key_to_raw(loaded.private_key.public_key()) != public_key_to_raw(
            self._key.private_key.public_key()
        ):
            # A pinned id names one key material: signing new material under it would be refused anyway.
            return self._keep(f"the plant YAML pins key_id {self._pinned}, which names the key loaded at start")
        if loaded.key_id != self._key.key_id:
            log.info("signing key changed: %s -> %s", self._key.key_id, loaded.key_id)
            metrics.KEY_CHANGES.inc()
        self._key = loaded
        return loaded

    def _keep(self, why: str) -> SigningKey:
        metrics.KEY_RELOAD_FAILURES.inc()
        log.error("key file %s changed but was not taken (%s); still signing with %s", self.path, why, self._key.key_id)
        return self._key


def write_key_pair(path: Path, key: Ed25519PrivateKey) -> None:
    """Write PATH (private, mode 600) and PATH.pub atomically: each is complete or not there yet.

    The private key is renamed into place last, so a connector watching PATH never reads a half-written key."""
    for target, data, mode in (
        (path.with_name(path.name + ".pub"), public_key_to_pem(key.public_key()), 0o644),
        (path, private_key_to_pem(key), 0o600),
    ):
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
