"""Client secrets (scrypt hashes) and at-rest encryption of signing private keys (AES-GCM).

hashlib.scrypt is a memory-hard KDF in the standard library, so no extra dependency is needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as _secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_N, _R, _P = 2**14, 8, 1
_MAX_SECRET = 256


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
    """A 32-byte key for one purpose ("signing-keys", "cursor") from the operator's secret."""
    return hashlib.scrypt(key_secret.encode(), salt=b"epd-gateway/" + purpose.encode(), n=_N, r=_R, p=_P, dklen=32)


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = os.urandom(12)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


class DecryptError(ValueError):
    pass


def decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptError("private key does not decrypt: wrong EPD_GATEWAY_KEY_SECRET or tampered row") from None
