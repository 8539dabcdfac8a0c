"""Partner endpoint secrets at rest: AES-256-GCM under keys derived from EPD_PUBLISHER_SECRET_KEY.

Two secrets live in ``partner_endpoints``: the Standard Webhooks signing key (``secret_sealed``,
``whsec_``/``whsk_``) and the OAuth2 client secret of PACT endpoints (``client_secret_sealed``).
Each column has its own key, derived with scrypt (the gateway's parameters, N=2^14, r=8, p=1) from
the operator's secret and a fixed salt per purpose (``epd_common.crypto.KEY_SALT_PREFIX``,
``epd-gateway/``, in front of every purpose; these purposes are the publisher's own):

- webhook signing keys: salt ``epd-gateway/publisher/webhook-signing-secret``
- OAuth2 client secrets: salt ``epd-gateway/publisher/oauth2-client-secret``

The AES-GCM primitives and the derivation are the shared ones (``epd_common.crypto``, also used
for the record-signing keys), so every service seals secrets the same way. The additional data
binds a ciphertext to its endpoint and column (``<endpoint_id>\\x00<column>``): a ciphertext copied
to another row or column does not decrypt. Stored value: ``0x01 || nonce (12 bytes) || ciphertext+tag``.

A wrong key, a tampered row or a copied ciphertext raises ``SecretKeyError`` (never a wrong
plaintext, so never a silently bad signature).
"""

from __future__ import annotations

from enum import StrEnum

from epd_common.crypto import DecryptError, decrypt, derive_key, encrypt
from epd_publisher.errors import PublisherError

MIN_KEY_LENGTH = 16
_FORMAT = b"\x01"
_NONCE = 12


class SecretColumn(StrEnum):
    """A secret column of ``partner_endpoints`` and the purpose its key is derived for."""

    WEBHOOK = "secret_sealed"
    CLIENT = "client_secret_sealed"

    @property
    def purpose(self) -> str:
        return {
            "secret_sealed": "publisher/webhook-signing-secret",
            "client_secret_sealed": "publisher/oauth2-client-secret",
        }[self.value]


class SecretKeyError(PublisherError):
    """A stored secret does not decrypt: EPD_PUBLISHER_SECRET_KEY is wrong, or the row was tampered with."""


class EndpointSecrets:
    """Seals and opens the secrets of one endpoint row (keys derived once, at construction)."""

    def __init__(self, key_secret: str) -> None:
        if not isinstance(key_secret, str) or len(key_secret) < MIN_KEY_LENGTH:
            raise SecretKeyError(f"EPD_PUBLISHER_SECRET_KEY must be at least {MIN_KEY_LENGTH} characters")
        self._keys = {column: derive_key(key_secret, column.purpose) for column in SecretColumn}

    @staticmethod
    def _aad(endpoint_id: str, column: SecretColumn) -> bytes:
        return endpoint_id.encode() + b"\x00" + column.value.encode()

    def seal(self, endpoint_id: str, column: SecretColumn, plaintext: str | None) -> bytes | None:
        if plaintext is None:
            return None
        nonce, ciphertext = encrypt(self._keys[column], plaintext.encode(), self._aad(endpoint_id, column))
        return _FORMAT + nonce + ciphertext

    def open(self, endpoint_id: str, column: SecretColumn, sealed: bytes | None) -> str | None:
        if sealed is None:
            return None
        sealed = bytes(sealed)
        if len(sealed) < 1 + _NONCE + 16 or sealed[:1] != _FORMAT:
            raise SecretKeyError(f"{column.value} of endpoint {endpoint_id!r} is not a sealed secret")
        try:
            plain = decrypt(
                self._keys[column], sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], self._aad(endpoint_id, column)
            )
        except DecryptError:
            raise SecretKeyError(
                f"{column.value} of endpoint {endpoint_id!r} does not decrypt: EPD_PUBLISHER_SECRET_KEY differs "
                "from the key it was registered with, or the row was altered"
            ) from None
        return plain.decode()
