"""Ed25519 batch signing: round trip, tamper detection, key loading."""

import pytest

from epd.v1 import telemetry_pb2
from epd_connector import signing


def _batch() -> telemetry_pb2.TelemetryBatch:
    b = telemetry_pb2.TelemetryBatch(batch_id="b-1", plant_id="baotou-smelter", sequence=1)
    b.readings.add(meter_id="roasting.electricity", value="12.5", unit="kWh")
    return b


def test_sign_verify_round_trip():
    key = signing.generate_private_key()
    signed = signing.sign_batch(_batch(), key, "k1")
    assert signed.key_id == "k1" and signed.plant_id == "baotou-smelter"
    assert len(signed.signature) == signing.SIGNATURE_BYTES
    batch = signing.verify_signed_batch(signed, key.public_key())
    assert batch == _batch()


@pytest.mark.parametrize("flip_at", [0, 5, -1])
def test_tampered_batch_bytes_fail(flip_at):
    key = signing.generate_private_key()
    signed = signing.sign_batch(_batch(), key, "k1")
    data = bytearray(signed.batch)
    data[flip_at] ^= 0x01
    signed.batch = bytes(data)
    with pytest.raises(signing.SignatureInvalid):
        signing.verify_signed_batch(signed, key.public_key())


def test_wrong_key_and_truncated_signature_fail():
    key, other = signing.generate_private_key(), signing.generate_private_key()
    signed = signing.sign_batch(_batch(), key, "k1")
    with pytest.raises(signing.SignatureInvalid):
        signing.verify_signed_batch(signed, other.public_key())
    signed.signature = signed.signature[:10]
    with pytest.raises(signing.SignatureInvalid, match="64 bytes"):
        signing.verify_signed_batch(signed, key.public_key())


def test_envelope_plant_mismatch_fails():
    key = signing.generate_private_key()
    signed = signing.sign_batch(_batch(), key, "k1")
    signed.plant_id = "another-plant"
    with pytest.raises(signing.SignatureInvalid, match="differs"):
        signing.verify_signed_batch(signed, key.public_key())


def test_pem_and_raw_key_loading_round_trip():
    key = signing.generate_private_key()
    pub = key.public_key()
    assert signing.public_key_to_raw(signing.load_public_key(signing.public_key_to_pem(pub))) == (
        signing.public_key_to_raw(pub)
    )
    assert signing.public_key_to_raw(signing.load_public_key(signing.public_key_to_raw(pub))) == (
        signing.public_key_to_raw(pub)
    )
    loaded = signing.load_private_key(signing.private_key_to_pem(key))
    signed = signing.sign_batch(_batch(), loaded, "k1")
    signing.verify_signed_batch(signed, pub)


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", b"\x00" * 31]
)
def test_bad_key_material_raises_key_load_error(data):
    with pytest.raises(signing.KeyLoadError):
        signing.load_public_key(data)
    with pytest.raises(signing.KeyLoadError):
        signing.load_private_key(data)


def test_non_ed25519_key_refused():
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import serialization

    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(signing.KeyLoadError, match="Ed25519"):
        signing.load_private_key(pem)
    with pytest.raises(signing.KeyLoadError, match="Ed25519"):
        signing.load_public_key(
            other.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
