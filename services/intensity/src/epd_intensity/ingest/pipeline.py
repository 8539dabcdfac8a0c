"""Ingest pipeline (pure): one raw record in, accepted Readings and RejectedReadings out.

`process_batch` never raises on bad input: every refusal becomes a RejectedReading carrying its
reason and the original bytes (the whole record for batch-level refusals, else the RawReading).
Ids are deterministic, so reprocessing a record after a crash yields identical output that
downstream consumers drop by id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from epd.v1 import telemetry_pb2
from epd_intensity.ingest import plausibility as plaus
from epd_intensity.ingest import units
from epd_intensity.ingest.counters import DEFAULT_RESET_FRACTION, CounterEvent, CounterPoint, counter_delta
from epd_intensity.ingest.dedupe import DedupeState, Seen
from epd_intensity.ingest.plausibility import Finding
from epd_intensity.ingest.registry import MeterSpec, PlantRegistry
from epd_intensity.ingest.validate import Limits, VerifiedBatch, parse_envelope, valid_id, verify

RR = telemetry_pb2.RejectionReason
RK = telemetry_pb2.ReadingKind


@dataclass(frozen=True)
class IngestConfig:
    limits: Limits = Limits()
    max_future_skew: timedelta = timedelta(minutes=5)
    max_lateness: timedelta = timedelta(days=7)
    reset_fraction: Decimal = DEFAULT_RESET_FRACTION


@dataclass
class IngestState:
    """Mutable state across batches: dedupe windows and last counter points (bounded by meters)."""

    dedupe: DedupeState = field(default_factory=DedupeState)
    counters: dict[tuple[str, str], CounterPoint] = field(default_factory=dict)

    @classmethod
    def for_config(cls, config: IngestConfig) -> IngestState:
        return cls(dedupe=DedupeState(window=config.max_lateness))


@dataclass
class IngestResult:
    accepted: list[telemetry_pb2.Reading] = field(default_factory=list)
    rejected: list[telemetry_pb2.RejectedReading] = field(default_factory=list)


DEFAULT_CONFIG = IngestConfig()


def reading_id(plant_id: str, meter_id: str, ts_ns: int) -> str:
    return hashlib.sha256(f"{plant_id}\x1f{meter_id}\x1f{ts_ns}".encode()).hexdigest()[:32]


def reading_hash(raw: telemetry_pb2.RawReading) -> str:
    """SHA-256 hex of the RawReading's deterministic serialisation (the evidence hash)."""
    return hashlib.sha256(raw.SerializeToString(deterministic=True)).hexdigest()


def _rejection(
    finding: Finding, payload: bytes, now: datetime, *, plant_id: str = "", batch_id: str = "", meter_id: str = ""
) -> telemetry_pb2.RejectedReading:
    digest = hashlib.sha256(payload).hexdigest()
    rid = hashlib.sha256(f"{finding.reason}\x1f{batch_id}\x1f{digest}".encode()).hexdigest()[:32]
    rej = telemetry_pb2.RejectedReading(
        rejection_id=rid,
        reason=finding.reason,
        detail=finding.detail[:500],
        plant_id=plant_id if valid_id(plant_id) else "",
        batch_id=batch_id if valid_id(batch_id) else "",
        meter_id=meter_id if valid_id(meter_id) else "",
        original_payload=payload,
    )
    rej.rejected_at.FromDatetime(now)
    return rej


def process_batch(
    signed_batch_bytes: bytes,
    registry: PlantRegistry,
    state: IngestState,
    now: datetime,
    config: IngestConfig = DEFAULT_CONFIG,
) -> IngestResult:
    """Verify, validate, normalise and dedupe one epd.telemetry.raw.v1 record."""
    result = IngestResult()
    envelope = parse_envelope(signed_batch_bytes, config.limits)
    if isinstance(envelope, Finding):
        result.rejected.append(_rejection(envelope, signed_batch_bytes, now))
        return result
    verified = verify(envelope, registry, config.limits)
    if isinstance(verified, Finding):
        result.rejected.append(_rejection(verified, signed_batch_bytes, now, plant_id=envelope.plant_id))
        return result
    batch = verified.batch
    if state.dedupe.batch_seen(batch.batch_id):
        dup = Finding(RR.REJECTION_REASON_DUPLICATE, f"batch {batch.batch_id} was already ingested")
        result.rejected.append(
            _rejection(dup, signed_batch_bytes, now, plant_id=batch.plant_id, batch_id=batch.batch_id)
        )
        return result
    # Time order per batch, so counter deltas and the dedupe high-water mark advance monotonically.
    def time_order(i: int) -> tuple[int, int, int]:
        ts = batch.readings[i].observed_at
        return ts.seconds, ts.nanos, i

    for i in sorted(range(len(batch.readings)), key=time_order):
        raw = batch.readings[i]
        outcome = _process_reading(raw, verified, state, now, config)
        if isinstance(outcome, Finding):
            payload = raw.SerializeToString(deterministic=True)
            result.rejected.append(
                _rejection(outcome, payload, now, plant_id=batch.plant_id, batch_id=batch.batch_id,
                           meter_id=raw.meter_id)
            )
        else:
            result.accepted.append(outcome)
    state.dedupe.record_batch(batch.batch_id)
    return result


def _process_reading(
    raw: telemetry_pb2.RawReading, vb: VerifiedBatch, state: IngestState, now: datetime, config: IngestConfig
) -> telemetry_pb2.Reading | Finding:
    plant_id = vb.batch.plant_id
    meter = vb.plant.meters.get(raw.meter_id)
    if meter is None:
        return Finding(RR.REJECTION_REASON_UNKNOWN_METER, f"meter {raw.meter_id[:64]!r} is not registered")
    if raw.kind not in (RK.READING_KIND_UNSPECIFIED, meter.reading_kind):
        return Finding(RR.REJECTION_REASON_MALFORMED, f"reading kind {raw.kind} differs from the meter's")
    if (bad := plaus.check_quality(raw.quality)) is not None:
        return bad
    observed = plaus.timestamp_of(raw.observed_at, raw.HasField("observed_at"))
    if isinstance(observed, Finding):
        return observed
    if (late := plaus.check_time(observed, now, config.max_future_skew, config.max_lateness)) is not None:
        return late
    value = plaus.parse_value(raw.value)
    if isinstance(value, Finding):
        return value
    try:
        norm = units.normalise(value, raw.unit, meter.activity_kind)
    except units.UnknownUnit as exc:
        return Finding(RR.REJECTION_REASON_UNKNOWN_UNIT, str(exc))
    except units.IncompatibleUnit as exc:
        return Finding(RR.REJECTION_REASON_INCOMPATIBLE_UNIT, str(exc))
    if (neg := plaus.check_sign(norm.quantity)) is not None:
        return neg
    ts_ns = raw.observed_at.seconds * 1_000_000_000 + raw.observed_at.nanos
    seen = state.dedupe.check_reading(plant_id, meter.meter_id, ts_ns)
    if seen is Seen.DUPLICATE:
        return Finding(RR.REJECTION_REASON_DUPLICATE, f"{meter.meter_id} at {observed.isoformat()} already ingested")
    if seen is Seen.BEYOND_WINDOW:
        return Finding(RR.REJECTION_REASON_TOO_LATE, "older than the meter's dedupe window; cannot prove it is new")

    quantity, elapsed, counter_point = _quantity(meter, norm.quantity, observed, ts_ns, plant_id, state, config)
    if isinstance(quantity, Finding):
        return quantity
    if elapsed is not None and (fast := plaus.check_rate(quantity, elapsed, meter.max_rate_per_hour, norm.unit)):
        return fast

    state.dedupe.record_reading(plant_id, meter.meter_id, ts_ns)
    if counter_point is not None:
        state.counters[(plant_id, meter.meter_id)] = counter_point
    reading = telemetry_pb2.Reading(
        reading_id=reading_id(plant_id, meter.meter_id, ts_ns),
        plant_id=plant_id,
        process_id=meter.process_id,
        meter_id=meter.meter_id,
        activity_kind=meter.activity_kind,
        activity=meter.activity,
        quantity=units.format_decimal(quantity),
        unit=norm.unit,
        quality=raw.quality,
        batch_id=vb.batch.batch_id,
        reading_hash=reading_hash(raw),
        product_id=meter.product_id,
    )
    reading.observed_at.CopyFrom(raw.observed_at)
    reading.ingested_at.FromDatetime(now)
    return reading


def _quantity(
    meter: MeterSpec, value: Decimal, observed: datetime, ts_ns: int, plant_id: str,
    state: IngestState, config: IngestConfig,
) -> tuple[Decimal | Finding, timedelta | None, CounterPoint | None]:
    """(quantity, elapsed time for the rate check or None to skip it, new counter point)."""
    nominal = timedelta(seconds=meter.interval_seconds)
    if meter.reading_kind != RK.READING_KIND_COUNTER:
        hwm = state.dedupe.high_water_ns(plant_id, meter.meter_id)
        elapsed = timedelta(microseconds=(ts_ns - hwm) // 1000) if hwm is not None and ts_ns > hwm else nominal
        return value, elapsed, None
    prev = state.counters.get((plant_id, meter.meter_id))
    if prev is not None and observed < prev.observed_at:
        late = Finding(RR.REJECTION_REASON_TOO_LATE, "counter reading older than the meter's last counter reading")
        return late, None, None
    # RawReading has no explicit reset flag yet, so resets are detected from the values alone.
    out = counter_delta(
        prev, value, rollover_modulus=meter.rollover_modulus, reset_floor=meter.reset_floor,
        reset_fraction=config.reset_fraction,
    )
    if out.event is CounterEvent.BACKWARDS or out.delta is None:
        was = prev.value if prev else "?"
        back = Finding(RR.REJECTION_REASON_COUNTER_BACKWARDS, f"counter fell from {was} to {value} without a reset")
        return back, None, None
    elapsed = None if prev is None else observed - prev.observed_at
    return out.delta, elapsed, CounterPoint(value, observed)
