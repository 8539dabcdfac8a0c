"""The ingest pipeline's per-reading path as it was before readings were encoded from byte templates
(commit 8e33132, trimmed to process_batch and what it calls), kept as the reference the current
pipeline must match byte for byte (test_ingest_encoding.py). Not used by the service."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from google.protobuf import timestamp_pb2

from epd.v1 import telemetry_pb2
from epd_common.reading_values import out_of_range
from epd_ingest import plausibility as plaus
from epd_ingest import units
from epd_ingest.counters import CounterEvent, CounterPoint, counter_delta
from epd_ingest.dedupe import Seen
from epd_ingest.pipeline import IngestConfig, IngestState, _rejection
from epd_ingest.plausibility import Finding
from epd_ingest.registry import MeterSpec, PlantRegistry
from epd_ingest.validate import VerifiedBatch, parse_envelope, verify

RR = telemetry_pb2.RejectionReason
RK = telemetry_pb2.ReadingKind


@dataclass
class ReferenceResult:
    accepted: list[telemetry_pb2.Reading] = field(default_factory=list)
    rejected: list[telemetry_pb2.RejectedReading] = field(default_factory=list)
    unknown_signer: bool = False


def reading_id(plant_id: str, meter_id: str, ts_ns: int) -> str:
    return hashlib.sha256(f"{plant_id}\x1f{meter_id}\x1f{ts_ns}".encode()).hexdigest()[:32]


def reading_hash(raw: telemetry_pb2.RawReading) -> str:
    """SHA-256 hex of the RawReading's deterministic serialisation (the evidence hash)."""
    return _reading_digest(raw).hex()


def _reading_digest(raw: telemetry_pb2.RawReading) -> bytes:
    return hashlib.sha256(raw.SerializeToString(deterministic=True)).digest()


def reference_process_batch(
    signed_batch_bytes: bytes,
    registry: PlantRegistry,
    state: IngestState,
    now: datetime,
    config: IngestConfig,
) -> ReferenceResult:
    """Verify, validate, normalise and dedupe one epd.telemetry.raw.v1 record."""
    result = ReferenceResult()
    envelope = parse_envelope(signed_batch_bytes, config.limits)
    if isinstance(envelope, Finding):
        result.rejected.append(_rejection(envelope, signed_batch_bytes, now))
        return result
    verified = verify(envelope, registry, config.limits)
    if isinstance(verified, Finding):
        plant = registry.plant(envelope.plant_id)
        result.unknown_signer = plant is None or envelope.key_id not in plant.keys
        result.rejected.append(
            _rejection(verified, signed_batch_bytes, now, plant_id=envelope.plant_id, batch_id=verified.batch_id)
        )
        return result
    batch = verified.batch
    if state.dedupe.batch_seen(batch.batch_id):
        dup = Finding(RR.REJECTION_REASON_DUPLICATE, f"batch {batch.batch_id} was already ingested")
        result.rejected.append(
            _rejection(dup, signed_batch_bytes, now, plant_id=batch.plant_id, batch_id=batch.batch_id)
        )
        return result
    ctx = _BatchContext(verified, state, now, config)
    readings = batch.readings
    # Time order per batch (stable, so ties keep their order), so counter deltas and the dedupe
    # high-water mark advance monotonically. ns since the epoch orders exactly like (seconds, nanos)
    # for every valid Timestamp; invalid ones are rejected without touching the state.
    stamps = [r.observed_at.seconds * _NS + r.observed_at.nanos for r in readings]
    for i in sorted(range(len(readings)), key=stamps.__getitem__):
        raw = readings[i]
        outcome = _process_reading(raw, stamps[i], ctx)
        if isinstance(outcome, Finding):
            payload = raw.SerializeToString(deterministic=True)
            result.rejected.append(
                _rejection(
                    outcome, payload, now, plant_id=batch.plant_id, batch_id=batch.batch_id, meter_id=raw.meter_id
                )
            )
        else:
            result.accepted.append(outcome)
    state.dedupe.record_batch(batch.batch_id)
    state.changes.batches[batch.batch_id] = batch.plant_id
    return result


_NS = 1_000_000_000
_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _BatchContext:
    """What every reading of one batch shares, computed once per batch (integers for the clock
    checks, the ingestion timestamp message, per meter a Reading holding the fields every reading of
    that meter in this batch has) so the per-reading path stays cheap."""

    __slots__ = (
        "batch_id",
        "config",
        "ingested_at",
        "lateness_us",
        "meters",
        "now",
        "now_us",
        "plant_id",
        "skew_us",
        "state",
        "templates",
    )

    def __init__(self, vb: VerifiedBatch, state: IngestState, now: datetime, config: IngestConfig) -> None:
        self.plant_id = vb.batch.plant_id
        self.batch_id = vb.batch.batch_id
        self.meters = vb.plant.meters
        self.state = state
        self.config = config
        self.now = now
        self.now_us = (now - _EPOCH) // _US
        self.skew_us = config.max_future_skew // _US
        self.lateness_us = config.max_lateness // _US
        self.ingested_at = timestamp_pb2.Timestamp()
        self.ingested_at.FromDatetime(now)
        self.templates: dict[str, telemetry_pb2.Reading] = {}

    def reading(self, meter: MeterSpec) -> telemetry_pb2.Reading:
        """A new Reading with the fields of `meter` and of this batch set (copied from one made per meter)."""
        template = self.templates.get(meter.meter_id)
        if template is None:
            template = self.templates[meter.meter_id] = telemetry_pb2.Reading(
                plant_id=self.plant_id,
                process_id=meter.process_id,
                meter_id=meter.meter_id,
                activity_kind=meter.activity_kind,
                activity=meter.activity,
                batch_id=self.batch_id,
                product_id=meter.product_id,
            )
            template.ingested_at.CopyFrom(self.ingested_at)
        reading = telemetry_pb2.Reading()
        reading.CopyFrom(template)
        return reading


def _process_reading(raw: telemetry_pb2.RawReading, ts_ns: int, ctx: _BatchContext) -> telemetry_pb2.Reading | Finding:
    """Checks in the order of the rejection reasons' precedence; see plausibility.py for each rule."""
    plant_id = ctx.plant_id
    meter = ctx.meters.get(raw.meter_id)
    if meter is None:
        return Finding(RR.REJECTION_REASON_UNKNOWN_METER, f"meter {raw.meter_id[:64]!r} is not registered")
    kind = raw.kind
    if kind != _UNSPECIFIED and kind != meter.reading_kind:
        return Finding(RR.REJECTION_REASON_MALFORMED, f"reading kind {kind} differs from the meter's")
    quality = raw.quality
    if quality == _BAD:
        return plaus.check_quality(quality)  # type: ignore[return-value]
    ts = raw.observed_at
    seconds, nanos = ts.seconds, ts.nanos
    if not (plaus.MIN_TS <= seconds <= plaus.MAX_TS and 0 <= nanos < _NS) or (
        not seconds and not nanos and not raw.HasField("observed_at")  # absent reads as 0, 0
    ):
        return plaus.timestamp_of(ts, raw.HasField("observed_at"))  # type: ignore[return-value]
    # Same microsecond precision as the datetime the checks were defined on (plausibility.check_time).
    observed_us = seconds * 1_000_000 + nanos // 1000
    if observed_us > ctx.now_us + ctx.skew_us or observed_us < ctx.now_us - ctx.lateness_us:
        return plaus.check_time(
            _datetime(seconds, nanos),
            ctx.now,
            ctx.config.max_future_skew,  # type: ignore[return-value]
            ctx.config.max_lateness,
        )
    text, raw_unit = raw.value, raw.unit
    value = plaus.parse_value(text)
    if isinstance(value, Finding):
        return value
    try:
        unit, factor = units.conversion(raw_unit, meter.activity_kind)
    except units.UnknownUnitError as exc:
        return Finding(RR.REJECTION_REASON_UNKNOWN_UNIT, str(exc))
    except units.IncompatibleUnitError as exc:
        return Finding(RR.REJECTION_REASON_INCOMPATIBLE_UNIT, str(exc))
    if factor is not None:
        value *= factor
        if (problem := out_of_range(value)) is not None:  # the detail is formatted only for a refusal
            return Finding(
                RR.REJECTION_REASON_OUT_OF_RANGE, f"value {text[:32]!r} {raw_unit[:16]} in {unit}: {problem}"
            )
    if value < 0:
        return plaus.check_sign(value)  # type: ignore[return-value]
    dedupe = ctx.state.dedupe
    seen = dedupe.check_reading(plant_id, meter.meter_id, ts_ns)
    if seen is not Seen.NEW:
        if seen is Seen.DUPLICATE:
            return Finding(
                RR.REJECTION_REASON_DUPLICATE,
                f"{meter.meter_id} at {_datetime(seconds, nanos).isoformat()} already ingested",
            )
        return Finding(RR.REJECTION_REASON_TOO_LATE, "older than the meter's dedupe window; cannot prove it is new")

    counter_point = None
    if meter.reading_kind == _COUNTER:
        quantity, elapsed, counter_point = _counter(meter, value, _datetime(seconds, nanos), plant_id, ctx)
        if isinstance(quantity, Finding):
            return quantity
    else:
        quantity, elapsed = value, None
        if meter.max_rate_per_hour is not None:  # elapsed since the meter's last reading, else nominal
            hwm = dedupe.high_water_ns(plant_id, meter.meter_id)
            elapsed = (
                timedelta(microseconds=(ts_ns - hwm) // 1000)
                if hwm is not None and ts_ns > hwm
                else timedelta(seconds=meter.interval_seconds)
            )
    if elapsed is not None and (fast := plaus.check_rate(quantity, elapsed, meter.max_rate_per_hour, unit)):
        return fast

    dedupe.record_reading(plant_id, meter.meter_id, ts_ns)
    digest = _reading_digest(raw)
    ctx.state.changes.add_evidence(meter.process_id, plant_id, meter.meter_id, ts_ns, digest)
    if counter_point is not None:
        ctx.state.counters[(plant_id, meter.meter_id)] = counter_point
    reading = ctx.reading(meter)
    reading.reading_id = reading_id(plant_id, meter.meter_id, ts_ns)
    reading.quantity = units.format_decimal(quantity)
    reading.unit = unit
    reading.quality = quality
    reading.reading_hash = digest.hex()
    reading.observed_at.CopyFrom(ts)
    return reading


_UNSPECIFIED = RK.READING_KIND_UNSPECIFIED
_COUNTER = RK.READING_KIND_COUNTER
_BAD = telemetry_pb2.ReadingQuality.READING_QUALITY_BAD


def _datetime(seconds: int, nanos: int) -> datetime:
    """The observed time as plausibility.timestamp_of builds it (microsecond precision, UTC)."""
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanos // 1000)


def _counter(
    meter: MeterSpec,
    value: Decimal,
    observed: datetime,
    plant_id: str,
    ctx: _BatchContext,
) -> tuple[Decimal | Finding, timedelta | None, CounterPoint | None]:
    """(delta, elapsed time for the rate check or None to skip it, new counter point)."""
    prev = ctx.state.counters.get((plant_id, meter.meter_id))
    if prev is not None and observed < prev.observed_at:
        late = Finding(RR.REJECTION_REASON_TOO_LATE, "counter reading older than the meter's last counter reading")
        return late, None, None
    # RawReading has no explicit reset flag yet, so resets are detected from the values alone.
    out = counter_delta(
        prev,
        value,
        rollover_modulus=meter.rollover_modulus,
        reset_floor=meter.reset_floor,
        reset_fraction=ctx.config.reset_fraction,
    )
    if out.event is CounterEvent.BACKWARDS or out.delta is None:
        was = prev.value if prev else "?"
        back = Finding(RR.REJECTION_REASON_COUNTER_BACKWARDS, f"counter fell from {was} to {value} without a reset")
        return back, None, None
    elapsed = None if prev is None else observed - prev.observed_at
    return out.delta, elapsed, CounterPoint(value, observed)
