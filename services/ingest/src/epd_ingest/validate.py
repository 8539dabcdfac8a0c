"""Batch-level validation: size bounds, envelope parsing, plant and key lookup, signature, schema.

Turns the bytes of one epd.telemetry.raw.v1 record into a verified TelemetryBatch or a single
batch-level Finding. Ed25519 verification uses pyca/cryptography directly (the connector's
signing module is not imported, so ingest does not depend on the connector package).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from google.protobuf.message import DecodeError

from epd.v1 import telemetry_pb2
from epd_ingest.plausibility import Finding
from epd_ingest.registry import PlantKey, PlantRecord, PlantRegistry

RR = telemetry_pb2.RejectionReason

# Printable ids without NUL or control characters (they end up in Kafka keys and PostgreSQL text).
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int = 1_048_576
    max_readings: int = 10_000


@dataclass(frozen=True)
class VerifiedBatch:
    signed: telemetry_pb2.SignedTelemetryBatch
    batch: telemetry_pb2.TelemetryBatch
    plant: PlantRecord


def valid_id(text: str) -> bool:
    return bool(_ID.match(text))


def parse_envelope(payload: bytes, limits: Limits) -> telemetry_pb2.SignedTelemetryBatch | Finding:
    if len(payload) > limits.max_record_bytes:
        return Finding(
            RR.REJECTION_REASON_OVERSIZED_BATCH, f"record of {len(payload)} bytes exceeds {limits.max_record_bytes}"
        )
    signed = telemetry_pb2.SignedTelemetryBatch()
    try:
        signed.ParseFromString(payload)
    except (DecodeError, ValueError, RuntimeWarning) as exc:
        return Finding(RR.REJECTION_REASON_MALFORMED, f"not a SignedTelemetryBatch: {exc}")
    if not valid_id(signed.plant_id) or not signed.batch:
        return Finding(RR.REJECTION_REASON_MALFORMED, "envelope lacks a valid plant_id or batch bytes")
    return signed


def verify(
    signed: telemetry_pb2.SignedTelemetryBatch, registry: PlantRegistry, limits: Limits
) -> VerifiedBatch | Finding:
    """Look up the plant and key, check the signature, then parse and schema-check the batch."""
    plant = registry.plant(signed.plant_id)
    if plant is None:
        return Finding(RR.REJECTION_REASON_UNKNOWN_PLANT, f"plant {signed.plant_id!r} is not registered")
    plant_key = plant.keys.get(signed.key_id)
    if plant_key is None:
        return Finding(RR.REJECTION_REASON_BAD_SIGNATURE, f"key {signed.key_id[:64]!r} is not registered for the plant")
    if len(signed.signature) != SIGNATURE_BYTES:
        return Finding(RR.REJECTION_REASON_BAD_SIGNATURE, f"signature is {len(signed.signature)} bytes, not 64")
    try:
        plant_key.public_key.verify(signed.signature, signed.batch)
    except InvalidSignature:
        return Finding(RR.REJECTION_REASON_BAD_SIGNATURE, "signature does not verify with the plant key")
    batch = telemetry_pb2.TelemetryBatch()
    try:
        batch.ParseFromString(signed.batch)
    except (DecodeError, ValueError, RuntimeWarning) as exc:
        return Finding(RR.REJECTION_REASON_MALFORMED, f"signed bytes are not a TelemetryBatch: {exc}")
    if batch.plant_id != signed.plant_id:
        return Finding(
            RR.REJECTION_REASON_BAD_SIGNATURE, f"batch plant_id {batch.plant_id[:64]!r} differs from the envelope"
        )
    if not valid_id(batch.batch_id):
        return Finding(RR.REJECTION_REASON_MALFORMED, "batch_id is missing or not a printable id")
    if len(batch.readings) > limits.max_readings:
        return Finding(
            RR.REJECTION_REASON_OVERSIZED_BATCH,
            f"{len(batch.readings)} readings exceed {limits.max_readings}",
            batch.batch_id,
        )
    if (stopped := key_stopped(plant_key, batch)) is not None:
        return stopped
    return VerifiedBatch(signed, batch, plant)


def key_stopped(key: PlantKey, batch: telemetry_pb2.TelemetryBatch) -> Finding | None:
    """A finding when the key had stopped counting (retired or revoked) by the batch's signed creation time
    or by the time of any of its readings; None for a key in force."""
    stops = key.stops()
    if not stops:
        return None
    created_ns = batch.created_at.seconds * _NS + batch.created_at.nanos
    latest_ns = max((r.observed_at.seconds * _NS + r.observed_at.nanos for r in batch.readings), default=0)
    for reason, since, why in stops:
        since_ns = (since - _EPOCH) // timedelta(microseconds=1) * 1000
        if created_ns < since_ns and latest_ns < since_ns:
            continue
        at = "created" if created_ns >= since_ns else "holds a reading observed"
        detail = f"batch {at} at or after {since.isoformat()}, when its key stopped counting ({why})"
        return Finding(reason, detail[:500], batch.batch_id)
    return None


_NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
