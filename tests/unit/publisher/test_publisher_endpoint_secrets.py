"""Endpoint secrets at rest: AES-GCM sealing, per-row/per-column binding, wrong keys fail loudly,
and the settings require EPD_PUBLISHER_SECRET_KEY."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn, SecretKeyError
from epd_publisher.settings import PublisherSettings

KEY = "unit-test-publisher-secret-key"
SECRET = "whsec_" + "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw=="


@pytest.fixture(scope="module")
def box() -> EndpointSecrets:
    return EndpointSecrets(KEY)


def test_sealed_bytes_are_not_the_secret_and_open_again(box):
    sealed = box.seal("jp-hook", SecretColumn.WEBHOOK, SECRET)
    assert SECRET.encode() not in sealed and SECRET[6:].encode() not in sealed
    assert sealed[:1] == b"\x01" and len(sealed) == 1 + 12 + len(SECRET) + 16
    assert box.open("jp-hook", SecretColumn.WEBHOOK, sealed) == SECRET
    assert box.seal("jp-hook", SecretColumn.WEBHOOK, SECRET) != sealed  # a fresh nonce each time


def test_none_stays_none(box):
    assert box.seal("jp-hook", SecretColumn.CLIENT, None) is None
    assert box.open("jp-hook", SecretColumn.CLIENT, None) is None


def test_wrong_key_raises_a_clear_error_not_a_wrong_secret(box):
    sealed = box.seal("jp-hook", SecretColumn.WEBHOOK, SECRET)
    with pytest.raises(SecretKeyError, match="EPD_PUBLISHER_SECRET_KEY"):
        EndpointSecrets("another-key-of-enough-length").open("jp-hook", SecretColumn.WEBHOOK, sealed)


@pytest.mark.parametrize(
    ("endpoint_id", "column"), [("other-hook", SecretColumn.WEBHOOK), ("jp-hook", SecretColumn.CLIENT)]
)
def test_ciphertext_is_bound_to_its_row_and_column(box, endpoint_id, column):
    sealed = box.seal("jp-hook", SecretColumn.WEBHOOK, SECRET)
    with pytest.raises(SecretKeyError):
        box.open(endpoint_id, column, sealed)


@pytest.mark.parametrize("stored", [b"", b"whsec_plain", b"\x02" + bytes(40), bytes(28)])
def test_malformed_or_plain_values_are_refused(box, stored):
    with pytest.raises(SecretKeyError):
        box.open("jp-hook", SecretColumn.WEBHOOK, stored)


def test_tampered_ciphertext_is_refused(box):
    sealed = bytearray(box.seal("jp-hook", SecretColumn.WEBHOOK, SECRET))
    sealed[-1] ^= 1
    with pytest.raises(SecretKeyError):
        box.open("jp-hook", SecretColumn.WEBHOOK, bytes(sealed))


def test_columns_use_different_keys(box):
    """The same plaintext under the same nonce would differ per column: the keys are per purpose."""
    assert SecretColumn.WEBHOOK.purpose != SecretColumn.CLIENT.purpose
    keys = box._keys
    assert keys[SecretColumn.WEBHOOK] != keys[SecretColumn.CLIENT] and all(len(k) == 32 for k in keys.values())


@pytest.mark.parametrize("key", ["", "x" * 15])
def test_short_keys_are_refused(key):
    with pytest.raises(SecretKeyError, match="at least 16"):
        EndpointSecrets(key)


def test_settings_require_the_key(monkeypatch):
    monkeypatch.setenv("EPD_RECORDS_KEY_SECRET", "unit-test-records-key-secret")
    monkeypatch.delenv("EPD_PUBLISHER_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="EPD_PUBLISHER_SECRET_KEY"):
        PublisherSettings()
    monkeypatch.setenv("EPD_PUBLISHER_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="EPD_PUBLISHER_SECRET_KEY"):
        PublisherSettings()
    monkeypatch.setenv("EPD_PUBLISHER_SECRET_KEY", KEY)
    settings = PublisherSettings()
    assert settings.secret_key == KEY and KEY not in repr(settings)


def test_settings_require_the_records_key_secret(monkeypatch):
    """The publisher signs pushed records with the programme's keys: delivery needs their secret."""
    monkeypatch.setenv("EPD_PUBLISHER_SECRET_KEY", KEY)
    monkeypatch.delenv("EPD_RECORDS_KEY_SECRET", raising=False)
    with pytest.raises(ValidationError, match="EPD_RECORDS_KEY_SECRET"):
        PublisherSettings()
    assert PublisherSettings(delivery_enabled=False).records_key_secret is None  # a relay needs no key
    monkeypatch.setenv("EPD_RECORDS_KEY_SECRET", "unit-test-records-key-secret")
    settings = PublisherSettings()
    assert settings.signing_secret == "unit-test-records-key-secret"
    assert "unit-test-records-key-secret" not in repr(settings)
