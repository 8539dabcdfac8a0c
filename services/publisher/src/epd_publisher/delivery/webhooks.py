"""Standard Webhooks signing: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

Signed content is ``{msg_id}.{timestamp}.{body}`` (Standard Webhooks spec, "Signature scheme").
HMAC-SHA256 ``v1`` signatures come from the ``standardwebhooks`` package itself. That package
(1.x) neither creates nor verifies asymmetric ``v1a`` signatures (its ``verify`` skips every version
but ``v1``), so Ed25519 ``v1a`` is done here with ``cryptography``: keys serialised as ``whsk_`` +
base64 (secret) and ``whpk_`` + base64 (public), signature base64 of the 64-byte Ed25519 signature.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks import Webhook

from epd_publisher.errors import PublisherError

HMAC_PREFIX = "whsec_"
SECRET_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"
#: Spec: symmetric secrets "at least 24 bytes (192 bits, 512 maximum)"; we read the maximum as 512 bits.
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
DEFAULT_TOLERANCE_SECONDS = 300
# Fixed namespace for deterministic message ids (uuid5); never change it or replays get new ids.
_MSG_NAMESPACE = uuid.UUID("6f1c1c2e-8d4b-5d3a-9a52-3c0e1f6b7a10")


class WebhookSigningError(PublisherError):
    """A key, id, timestamp or body cannot be used for signing; the message says why."""


def _text_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise WebhookSigningError(f"{name} must be a non-empty string of at most 256 characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise WebhookSigningError(f"{name} contains control characters")
    return value


def webhook_id(partner_id: str, event_id: str) -> str:
    """Deterministic ``msg_...`` id: retries and replays of one event to one partner keep one id."""
    partner = _text_id(partner_id, "partner id")
    event = _text_id(event_id, "event id")
    return "msg_" + uuid.uuid5(_MSG_NAMESPACE, f"{partner}\x1f{event}").hex


def _b64(value: str, prefix: str, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith(prefix):
        raise WebhookSigningError(f"{what} must start with {prefix!r}")
    try:
        return base64.b64decode(value[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSigningError(f"{what} is not valid base64") from None


class Signer(Protocol):
    def sign(self, msg_id: str, timestamp: int, body: str) -> str:
        """Return one ``version,base64`` signature."""
        ...


class HmacSigner:
    """``v1`` signatures with a ``whsec_`` secret, computed by the ``standardwebhooks`` package."""

    def __init__(self, secret: str) -> None:
        raw = _b64(secret, HMAC_PREFIX, "webhook secret")
        if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
            raise WebhookSigningError(
                f"webhook secret must decode to {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes, got {len(raw)}"
            )
        self._webhook = Webhook(raw)

    def sign(self, msg_id: str, timestamp: int, body: str) -> str:
        return self._webhook.sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body)


class Ed25519Signer:
    """``v1a`` signatures with an Ed25519 key (``whsk_`` + base64 of the 32-byte seed)."""

    def __init__(self, secret_key: str) -> None:
        raw = _b64(secret_key, SECRET_KEY_PREFIX, "signing key")
        # Some tools serialise libsodium-style seed||public (64 bytes); accept that when consistent.
        if len(raw) not in (32, 64):
            raise WebhookSigningError(f"Ed25519 signing key must be 32 or 64 bytes, got {len(raw)}")
        self._key = Ed25519PrivateKey.from_private_bytes(raw[:32])
        if len(raw) == 64 and raw[32:] != self._public_raw():
            raise WebhookSigningError("Ed25519 signing key: public half does not match the seed")

    @classmethod
    def generate(cls) -> Ed25519Signer:
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(SECRET_KEY_PREFIX + base64.b64encode(seed).decode())

    def _public_raw(self) -> bytes:
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_key(self) -> str:
        """The ``whpk_`` form partners use to verify."""
        return PUBLIC_KEY_PREFIX + base64.b64encode(self._public_raw()).decode()

    def sign(self, msg_id: str, timestamp: int, body: str) -> str:
        signature = self._key.sign(f"{msg_id}.{timestamp}.{body}".encode())
        return "v1a," + base64.b64encode(signature).decode()


@dataclass(frozen=True, slots=True)
class SignedRequest:
    headers: dict[str, str]
    body: bytes


def _body_text(body: bytes | str) -> str:
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookSigningError("body must be UTF-8") from None
    if isinstance(body, str):
        return body
    raise WebhookSigningError("body must be bytes or str")


def sign_request(
    msg_id: str,
    body: bytes | str,
    *,
    timestamp: int,
    signers: Sequence[Signer],
    content_type: str = "application/json",
) -> SignedRequest:
    """Headers for one attempt. Several signers give a space-separated list (key rotation)."""
    _text_id(msg_id, "webhook id")
    if "." in msg_id or " " in msg_id:
        raise WebhookSigningError("webhook id must not contain '.' or spaces")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 < timestamp < 2**32:
        raise WebhookSigningError("timestamp must be a positive integer unix time")
    if not signers:
        raise WebhookSigningError("at least one signer is required")
    text = _body_text(body)
    signature = " ".join(s.sign(msg_id, timestamp, text) for s in signers)
    return SignedRequest(
        headers={
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
            "content-type": content_type,
        },
        body=text.encode("utf-8"),
    )


def verify_v1a(
    public_key: str,
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Receiver-side check of a ``v1a`` signature; raises ``WebhookSigningError`` when it fails."""
    raw = _b64(public_key, PUBLIC_KEY_PREFIX, "public key")
    if len(raw) != 32:
        raise WebhookSigningError("Ed25519 public key must be 32 bytes")
    key = Ed25519PublicKey.from_public_bytes(raw)
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, ts, sigs = (lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and ts and sigs):
        raise WebhookSigningError("missing webhook headers")
    if not ts.isascii() or not ts.isdigit() or abs(int(ts) - now) > tolerance:
        raise WebhookSigningError("timestamp malformed or outside the tolerance")
    content = f"{msg_id}.{ts}.{_body_text(body)}".encode()
    for item in sigs.split(" "):
        version, _, value = item.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(value, validate=True), content)
            return
        except (InvalidSignature, binascii.Error, ValueError):
            continue
    raise WebhookSigningError("no matching v1a signature")
