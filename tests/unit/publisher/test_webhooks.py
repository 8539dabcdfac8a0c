"""Standard Webhooks signing, checked with the independent `standardwebhooks` verifier (v1)
and with `cryptography` directly (v1a, which the package does not support)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from epd_publisher.delivery.webhooks import (
    Ed25519Signer,
    HmacSigner,
    WebhookSigningError,
    sign_request,
    verify_v1a,
    webhook_id,
)

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
BODY = json.dumps(
    {"type": "footprint.published", "data": {"pfId": "x", "gwp": "12.5", "名": "钕"}}, ensure_ascii=False
).encode()


def signed(body: bytes = BODY, *signers, ts: int | None = None):
    return sign_request(
        webhook_id("partner-jp", "evt-1"),
        body,
        timestamp=ts or int(time.time()),
        signers=signers or (HmacSigner(SECRET),),
    )


def test_hmac_signature_verifies_with_the_standardwebhooks_package() -> None:
    req = signed()
    assert Webhook(SECRET).verify(req.body, req.headers) == json.loads(BODY)
    assert set(req.headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert req.headers["webhook-signature"].startswith("v1,")


def test_tampered_body_is_rejected() -> None:
    req = signed()
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(req.body.replace(b"12.5", b"1.25"), req.headers)


def test_old_timestamp_is_rejected() -> None:
    req = signed(ts=int(time.time()) - 3600)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(req.body, req.headers)


def test_wrong_secret_and_swapped_id_are_rejected() -> None:
    req = signed()
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER).verify(req.body, req.headers)
    headers = {**req.headers, "webhook-id": webhook_id("partner-jp", "evt-2")}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(req.body, headers)


def test_key_rotation_sends_both_signatures_and_either_secret_verifies() -> None:
    req = signed(BODY, HmacSigner(OTHER), HmacSigner(SECRET))
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    Webhook(SECRET).verify(req.body, req.headers)
    Webhook(OTHER).verify(req.body, req.headers)


def test_v1a_ed25519_signature_verifies_independently() -> None:
    signer = Ed25519Signer.generate()
    req = signed(BODY, signer)
    version, sig = req.headers["webhook-signature"].split(",")
    assert version == "v1a"
    # independent check with cryptography, not through our verify helper
    pub = base64.b64decode(signer.public_key.removeprefix("whpk_"))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    content = f"{req.headers['webhook-id']}.{req.headers['webhook-timestamp']}.".encode() + req.body
    Ed25519PublicKey.from_public_bytes(pub).verify(base64.b64decode(sig), content)
    verify_v1a(signer.public_key, req.body, req.headers, now=int(time.time()))


def test_v1a_rejects_tampering_wrong_key_and_stale_timestamps() -> None:
    signer, other = Ed25519Signer.generate(), Ed25519Signer.generate()
    req = signed(BODY, signer)
    now = int(req.headers["webhook-timestamp"])
    with pytest.raises(WebhookSigningError, match="no matching"):
        verify_v1a(signer.public_key, req.body + b" ", req.headers, now=now)
    with pytest.raises(WebhookSigningError, match="no matching"):
        verify_v1a(other.public_key, req.body, req.headers, now=now)
    with pytest.raises(WebhookSigningError, match="tolerance"):
        verify_v1a(signer.public_key, req.body, req.headers, now=now + 301)
    with pytest.raises(WebhookSigningError, match="missing"):
        verify_v1a(signer.public_key, req.body, {}, now=now)


def test_mixed_v1_and_v1a_header_serves_both_kinds_of_receiver() -> None:
    ed = Ed25519Signer.generate()
    req = signed(BODY, HmacSigner(SECRET), ed)
    Webhook(SECRET).verify(req.body, req.headers)  # skips the v1a entry
    verify_v1a(ed.public_key, req.body, req.headers, now=int(time.time()))


def test_64_byte_seed_and_public_key_form_is_accepted_when_consistent() -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    pub = key.public_key().public_bytes_raw()
    signer = Ed25519Signer("whsk_" + base64.b64encode(seed + pub).decode())
    assert signer.public_key == "whpk_" + base64.b64encode(pub).decode()
    with pytest.raises(WebhookSigningError, match="does not match"):
        Ed25519Signer("whsk_" + base64.b64encode(seed + bytes(32)).decode())


def test_webhook_id_is_deterministic_per_partner_and_event() -> None:
    a = webhook_id("partner-jp", "evt-1")
    assert a == webhook_id("partner-jp", "evt-1")
    assert a != webhook_id("partner-de", "evt-1")
    assert a != webhook_id("partner-jp", "evt-2")
    assert webhook_id("ab", "c") != webhook_id("a", "bc")  # the separator keeps the parts apart
    assert a.startswith("msg_") and "." not in a


@pytest.mark.parametrize(
    ("partner", "event"),
    [("", "e"), ("p", ""), (None, "e"), ("p", 7), ("p\x00", "e"), ("p", "e\n"), ("p" * 300, "e")],
)
def test_bad_ids_are_refused(partner: object, event: object) -> None:
    with pytest.raises(WebhookSigningError):
        webhook_id(partner, event)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "whsec_",
        "secret",
        "whsec_!!!!",
        "whsec_" + base64.b64encode(b"short").decode(),
        "whsec_" + base64.b64encode(bytes(65)).decode(),
        "whsk_" + base64.b64encode(bytes(32)).decode(),
        None,
    ],
)
def test_bad_hmac_secrets_are_refused(secret: object) -> None:
    with pytest.raises(WebhookSigningError):
        HmacSigner(secret)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key",
    ["", "whpk_" + base64.b64encode(bytes(32)).decode(), "whsk_###", "whsk_" + base64.b64encode(bytes(31)).decode()],
)
def test_bad_ed25519_keys_are_refused(key: str) -> None:
    with pytest.raises(WebhookSigningError):
        Ed25519Signer(key)


@pytest.mark.parametrize(
    ("msg_id", "body", "ts", "signers"),
    [
        ("msg.with.dots", BODY, 1_700_000_000, None),
        ("msg id", BODY, 1_700_000_000, None),
        ("msg_ok", b"\xff\xfe", 1_700_000_000, None),
        ("msg_ok", BODY, 0, None),
        ("msg_ok", BODY, -5, None),
        ("msg_ok", BODY, 1.5, None),
        ("msg_ok", BODY, True, None),
        ("msg_ok", BODY, 2**40, None),
        ("msg_ok", 12, 1_700_000_000, None),
        ("msg_ok", BODY, 1_700_000_000, ()),
    ],
)
def test_bad_sign_requests_are_refused(msg_id, body, ts, signers) -> None:
    with pytest.raises(WebhookSigningError):
        sign_request(msg_id, body, timestamp=ts, signers=(HmacSigner(SECRET),) if signers is None else signers)
