"""Ed25519 signing of telemetry batches (pyca/cryptography).

The signature covers the exact serialised TelemetryBatch bytes carried in SignedTelemetryBatch, so
the verifier never re-serialises (protobuf serialisation is not canonical across implementations).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from epd.v1 import telemetry_pb2
from epd_connector.errors import ConnectorError

SIGNATURE_BYTES = 64
RAW_KEY_BYTES = 32


class KeyLoadError(ConnectorError):
    """Key material that is not an Ed25519 key in PEM or raw 32-byte form."""


class SignatureInvalid(ConnectorError):
    """The signature does not verify against the given public key."""


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (protect the file with permissions or a secret store)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_to_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_to_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_private_key(data: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PEM (PKCS#8) or raw 32-byte Ed25519 private key."""
    if len(data) == RAW_KEY_BYTES and not data.startswith(b"-----"):
        return Ed25519PrivateKey.from_private_bytes(data)
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"not a PEM private key or raw 32-byte Ed25519 seed: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyLoadError(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """Load a PEM (SubjectPublicKeyInfo) or raw 32-byte Ed25519 public key."""
    if len(data) == RAW_KEY_BYTES and not data.startswith(b"-----"):
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"not a PEM public key or raw 32-byte Ed25519 key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyLoadError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def sign_batch(
    batch: telemetry_pb2.TelemetryBatch, key: Ed25519PrivateKey, key_id: str
) -> telemetry_pb2.SignedTelemetryBatch:
    """Serialise the batch once (deterministic) and sign those bytes."""
    payload = batch.SerializeToString(deterministic=True)
    return telemetry_pb2.SignedTelemetryBatch(
        batch=payload, signature=key.sign(payload), key_id=key_id, plant_id=batch.plant_id
    )


def verify_signature(payload: bytes, signature: bytes, key: Ed25519PublicKey) -> None:
    """Raise SignatureInvalid unless `signature` is a valid Ed25519 signature of `payload`."""
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureInvalid(f"signature must be {SIGNATURE_BYTES} bytes, got {len(signature)}")
    try:
        key.verify(signature, payload)
    except InvalidSignature as exc:
        raise SignatureInvalid("signature does not match the batch bytes") from exc


def verify_signed_batch(
    signed: telemetry_pb2.SignedTelemetryBatch, key: Ed25519PublicKey
) -> telemetry_pb2.TelemetryBatch:
    """Verify and return the parsed batch; raises SignatureInvalid (also on a plant id mismatch)."""
    verify_signature(signed.batch, signed.signature, key)
    batch = telemetry_pb2.TelemetryBatch()
    batch.ParseFromString(signed.batch)
    if batch.plant_id != signed.plant_id:
        raise SignatureInvalid(f"batch plant_id {batch.plant_id!r} differs from envelope {signed.plant_id!r}")
    return batch
