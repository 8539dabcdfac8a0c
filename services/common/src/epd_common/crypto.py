"""Crypto primitives shared by the services: scrypt secret hashes, scrypt key derivation and
AES-256-GCM sealing. hashlib.scrypt is a memory-hard KDF in the standard library; AES-GCM comes
from `cryptography`.

Used for OAuth2 client secrets (gateway), the programme's record-signing private keys at rest
(gateway, publisher, `epd gateway rotate-key`) and partner endpoint secrets (publisher).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as _secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from epd_common.errors import CommonError

_N, _R, _P = 2**14, 8, 1
_MAX_SECRET = 256
#: Every derived key's salt is this prefix and the key's purpose. The prefix dates from when these
#: helpers lived in the gateway; it stays so that every stored ciphertext still decrypts.
KEY_SALT_PREFIX = b"epd-gateway/"


class CryptoError(CommonError):
    """Base of the errors of this module."""


class DecryptError(CryptoError):
    """A sealed value does not open: a wrong key, or a tampered or copied ciphertext."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_client_secret() -> str:
    return _secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def check_secret(secret: str, stored: str) -> bool:
    """Constant-time check; False for malformed stored hashes or over-long secrets."""
    if len(secret) > _MAX_SECRET:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def derive_key(key_secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose ("signing-keys", "cursor", ...) from an operator's secret."""
    return hashlib.scrypt(key_secret.encode(), salt=KEY_SALT_PREFIX + purpose.encode(), n=_N, r=_R, p=_P, dklen=32)


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """(nonce, ciphertext with tag); `aad` binds the ciphertext to where it is stored."""
    nonce = os.urandom(12)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptError("the sealed value does not decrypt: wrong key secret, or a tampered or copied row") from None
