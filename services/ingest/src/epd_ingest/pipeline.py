"""Ingest pipeline (pure): one raw record in, accepted Readings and RejectedReadings out.

`process_batch` never raises on bad input: every refusal becomes a RejectedReading carrying its
reason and the original bytes (the whole record for batch-level refusals, else the RawReading).
Ids are deterministic, so reprocessing a record after a crash yields identical output that
downstream consumers drop by id.
"""

from __future__ import annotations

import hashlib
import operator
from binascii import hexlify
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice

from google.protobuf import timestamp_pb2

from epd.v1 import telemetry_pb2
from epd_common.reading_values import out_of_range
from epd_ingest import encoding, units
from epd_ingest import plausibility as plaus
from epd_ingest.counters import DEFAULT_RESET_FRACTION, CounterEvent, CounterPoint, counter_delta
from epd_ingest.dedupe import DedupeState, MeterWindow, Seen
from epd_ingest.plausibility import Finding
from epd_ingest.registry import MeterSpec, PlantRegistry
from epd_ingest.validate import Limits, VerifiedBatch, parse_envelope, valid_id, verify

RR = telemetry_pb2.RejectionReason
RK = telemetry_pb2.ReadingKind


@dataclass(frozen=True)
class IngestConfig:
    limits: Limits = field(default_factory=Limits)
    max_future_skew: timedelta = timedelta(minutes=5)
    max_lateness: timedelta = timedelta(days=7)
    reset_fraction: Decimal = DEFAULT_RESET_FRACTION


@dataclass
class StateChanges:
    """What the state gained since it was last saved: the ids of batches processed (batch id ->
    plant id) and the evidence rows of the accepted readings (table evidence_readings: `epd audit
    prove` builds Merkle paths from them; their (plant, meter, observed ns) are also the dedupe
    window's new stamps). The state store drains it when it saves."""

    batches: dict[str, str] = field(default_factory=dict)
    # The evidence of the accepted readings, column by column as the state store sends it (so a save
    # does not transpose rows): each distinct (process, plant, meter) with its 1-based index, and per
    # reading, in acceptance order, its key's index, its observed ns and its 32-byte hash.
    evidence_keys: dict[tuple[str, str, str], int] = field(default_factory=dict)
    evidence_index: list[int] = field(default_factory=list)
    evidence_ns: list[int] = field(default_factory=list)
    evidence_hashes: bytearray = field(default_factory=bytearray)

    def add_evidence(self, process_id: str, plant_id: str, meter_id: str, observed_ns: int, digest: bytes) -> None:
        if len(digest) != 32:
            raise ValueError("every evidence hash is a 32-byte SHA-256 digest")
        self.evidence_index.append(self.key_index(process_id, plant_id, meter_id))
        self.evidence_ns.append(observed_ns)
        self.evidence_hashes += digest

    def key_index(self, process_id: str, plant_id: str, meter_id: str) -> int:
        """The 1-based index of (process, plant, meter), assigned at its first evidence row."""
        key = (process_id, plant_id, meter_id)
        i = self.evidence_keys.get(key)
        if i is None:
            i = self.evidence_keys[key] = len(self.evidence_keys) + 1
        return i

    @property
    def evidence(self) -> list[tuple[str, str, str, int, bytes]]:
        """(process, plant, meter, observed ns, hash) of each accepted reading, in order (tests, logs)."""
        keys = list(self.evidence_keys)
        h = self.evidence_hashes
        return [
            (*keys[i - 1], ns, bytes(h[n * 32 : n * 32 + 32]))
            for n, (i, ns) in enumerate(zip(self.evidence_index, self.evidence_ns, strict=True))
        ]

    def __bool__(self) -> bool:
        return bool(self.batches or self.evidence_ns)


@dataclass
class IngestState:
    """Mutable state across batches: dedupe windows and last counter points (bounded by meters)."""

    dedupe: DedupeState = field(default_factory=DedupeState)
    counters: dict[tuple[str, str], CounterPoint] = field(default_factory=dict)
    changes: StateChanges = field(default_factory=StateChanges, repr=False)

    @classmethod
    def for_config(cls, config: IngestConfig) -> IngestState:
        return cls(dedupe=DedupeState(window=config.max_lateness))

    def take_changes(self) -> StateChanges:
        """The changes since the last call (for the state store), leaving an empty log."""
        changes, self.changes = self.changes, StateChanges()
        return changes


@dataclass
class IngestResult:
    # The accepted readings, in order, each as its Reading's deterministic serialisation (what the
    # service frames into ReadingBatch records); all of the batch's plant, `plant_id`.
    encoded: list[bytes] = field(default_factory=list)
    rejected: list[telemetry_pb2.RejectedReading] = field(default_factory=list)
    # The batch was refused because the registry snapshot does not know its plant or signing key (the
    # service may reload the registry and process the record again: nothing of the state was touched).
    unknown_signer: bool = False
    plant_id: str = ""

    @property
    def accepted(self) -> list[telemetry_pb2.Reading]:
        """The accepted readings as messages (tests, tools; the service sends `encoded`)."""
        return [telemetry_pb2.Reading.FromString(b) for b in self.encoded]


DEFAULT_CONFIG = IngestConfig()


def reading_id(plant_id: str, meter_id: str, ts_ns: int) -> str:
    return hashlib.sha256(f"{plant_id}\x1f{meter_id}\x1f{ts_ns}".encode()).hexdigest()[:32]


def reading_hash(raw: telemetry_pb2.RawReading) -> str:
    """SHA-256 hex of the RawReading's deterministic serialisation (the evidence hash)."""
    return _reading_digest(raw).hex()


def _reading_digest(raw: telemetry_pb2.RawReading) -> bytes:
    return hashlib.sha256(raw.SerializeToString(deterministic=True)).digest()


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
    result.plant_id = batch.plant_id
    readings = batch.readings
    # Time order per batch (stable, so ties keep their order), so counter deltas and the dedupe
    # high-water mark advance monotonically. ns since the epoch orders exactly like (seconds, nanos)
    # for every valid Timestamp; invalid ones are rejected without touching the state.
    times = [r.observed_at for r in readings]
    stamps = [ts.seconds * _NS + ts.nanos for ts in times]
    in_order = all(map(operator.le, stamps, islice(stamps, 1, None)))  # the usual case: no sort needed
    encoded = result.encoded
    for i in range(len(readings)) if in_order else sorted(range(len(readings)), key=stamps.__getitem__):
        raw = readings[i]
        outcome = _process_reading(raw, times[i], stamps[i], ctx)
        if isinstance(outcome, Finding):
            payload = raw.SerializeToString(deterministic=True)
            result.rejected.append(
                _rejection(
                    outcome, payload, now, plant_id=batch.plant_id, batch_id=batch.batch_id, meter_id=raw.meter_id
                )
            )
        else:
            encoded.append(outcome)
    state.dedupe.record_batch(batch.batch_id)
    state.changes.batches[batch.batch_id] = batch.plant_id
    return result


_NS = 1_000_000_000
_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _MeterPath:
    """What every reading of one meter in one batch shares: the meter, its Reading template, the
    prefix of its reading ids, its unit conversions, and (looked up at first use) its dedupe window
    and its index among the evidence keys of the unsaved state changes."""

    __slots__ = ("evidence_key", "id_prefix", "meter", "template", "units", "window")

    def __init__(self, meter: MeterSpec, ctx: _BatchContext) -> None:
        self.meter = meter
        self.template = encoding.ReadingTemplate(ctx.plant_id, meter, ctx.batch_field, ctx.ingested_field)
        self.id_prefix = f"{ctx.plant_id}\x1f{meter.meter_id}\x1f".encode()  # reading_id's text up to the stamp
        self.units: dict[str, tuple[str, Decimal | None]] = {}
        self.window: MeterWindow | None = None
        self.evidence_key = 0


class _BatchContext:
    """What every reading of one batch shares, computed once per batch (integers for the clock
    checks, the ingestion timestamp's bytes, a _MeterPath per meter) so the per-reading path stays
    cheap."""

    __slots__ = (
        "batch_field",
        "changes",
        "config",
        "earliest_us",
        "ingested_field",
        "latest_us",
        "meters",
        "now",
        "paths",
        "plant_id",
        "state",
    )

    def __init__(self, vb: VerifiedBatch, state: IngestState, now: datetime, config: IngestConfig) -> None:
        self.plant_id = vb.batch.plant_id
        self.batch_field = encoding.batch_field(vb.batch.batch_id)
        self.meters = vb.plant.meters
        self.state = state
        self.changes = state.changes  # drained only between polls, never during a batch
        self.config = config
        self.now = now
        now_us = (now - _EPOCH) // _US
        self.latest_us = now_us + config.max_future_skew // _US  # the clock checks' bounds, inclusive
        self.earliest_us = now_us - config.max_lateness // _US
        ingested_at = timestamp_pb2.Timestamp()
        ingested_at.FromDatetime(now)
        self.ingested_field = encoding.ingested_field(ingested_at.SerializeToString(deterministic=True))
        self.paths: dict[str, _MeterPath] = {}

    def path(self, meter_id: str) -> _MeterPath | None:
        """The meter's _MeterPath, None for a meter the plant does not have."""
        path = self.paths.get(meter_id)
        if path is None:
            meter = self.meters.get(meter_id)
            if meter is None:
                return None
            path = self.paths[meter_id] = _MeterPath(meter, self)
        return path


def _process_reading(
    raw: telemetry_pb2.RawReading, ts: timestamp_pb2.Timestamp, ts_ns: int, ctx: _BatchContext
) -> bytes | Finding:
    """Checks in the order of the rejection reasons' precedence (see plausibility.py for each rule);
    an accepted reading is recorded in the state and returned as its Reading's bytes. `ts` is its
    observed_at, `ts_ns` that in ns."""
    plant_id = ctx.plant_id
    meter_id = raw.meter_id
    path = ctx.paths.get(meter_id) or ctx.path(meter_id)
    if path is None:
        return Finding(RR.REJECTION_REASON_UNKNOWN_METER, f"meter {meter_id[:64]!r} is not registered")
    meter = path.meter
    kind = raw.kind
    if kind != _UNSPECIFIED and kind != meter.reading_kind:
        return Finding(RR.REJECTION_REASON_MALFORMED, f"reading kind {kind} differs from the meter's")
    quality = raw.quality
    if quality == _BAD:
        return plaus.check_quality(quality)  # type: ignore[return-value]
    seconds, nanos = ts.seconds, ts.nanos
    if not (_MIN_TS <= seconds <= _MAX_TS and 0 <= nanos < _NS) or (
        not seconds and not nanos and not raw.HasField("observed_at")  # absent reads as 0, 0
    ):
        return plaus.timestamp_of(ts, raw.HasField("observed_at"))  # type: ignore[return-value]
    # Same microsecond precision as the datetime the checks were defined on (plausibility.check_time).
    observed_us = seconds * 1_000_000 + nanos // 1000
    if observed_us > ctx.latest_us or observed_us < ctx.earliest_us:
        return plaus.check_time(
            _datetime(seconds, nanos),
            ctx.now,
            ctx.config.max_future_skew,  # type: ignore[return-value]
            ctx.config.max_lateness,
        )
    text, raw_unit = raw.value, raw.unit
    value = _parse_value(text)
    if isinstance(value, Finding):
        return value
    conversion = path.units.get(raw_unit)
    if conversion is None:
        try:
            conversion = path.units[raw_unit] = units.conversion(raw_unit, meter.activity_kind)
        except units.UnknownUnitError as exc:
            return Finding(RR.REJECTION_REASON_UNKNOWN_UNIT, str(exc))
        except units.IncompatibleUnitError as exc:
            return Finding(RR.REJECTION_REASON_INCOMPATIBLE_UNIT, str(exc))
    unit, factor = conversion
    if factor is not None:
        value *= factor
        if (problem := out_of_range(value)) is not None:  # the detail is formatted only for a refusal
            return Finding(
                RR.REJECTION_REASON_OUT_OF_RANGE, f"value {text[:32]!r} {raw_unit[:16]} in {unit}: {problem}"
            )
    if value < 0:
        return plaus.check_sign(value)  # type: ignore[return-value]
    window = path.window
    if window is None:
        window = path.window = ctx.state.dedupe.meter(plant_id, meter_id)
    seen = window.check(ts_ns)
    if seen is not Seen.NEW:
        if seen is Seen.DUPLICATE:
            return Finding(
                RR.REJECTION_REASON_DUPLICATE,
                f"{meter_id} at {_datetime(seconds, nanos).isoformat()} already ingested",
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
            hwm = window.stamps[-1] if window.stamps else None
            elapsed = (
                timedelta(microseconds=(ts_ns - hwm) // 1000)
                if hwm is not None and ts_ns > hwm
                else timedelta(seconds=meter.interval_seconds)
            )
    if elapsed is not None and (fast := plaus.check_rate(quantity, elapsed, meter.max_rate_per_hour, unit)):
        return fast

    ctx.state.dedupe.record_in(window, ts_ns)
    digest = _sha256(raw.SerializeToString(deterministic=True)).digest()  # _reading_digest(raw)
    changes = ctx.changes
    changes.evidence_index.append(
        path.evidence_key or _evidence_key(path, changes, meter.process_id, plant_id, meter_id)
    )
    changes.evidence_ns.append(ts_ns)
    changes.evidence_hashes += digest
    if counter_point is not None:
        ctx.state.counters[(plant_id, meter_id)] = counter_point
    return path.template.encode(
        hexlify(_sha256(path.id_prefix + str(ts_ns).encode()).digest()[:16]),  # reading_id(plant, meter, ts)
        ts.SerializeToString(deterministic=True),
        _format_decimal(quantity).encode(),
        unit,
        quality,
        hexlify(digest),
    )


def _evidence_key(path: _MeterPath, changes: StateChanges, process_id: str, plant_id: str, meter_id: str) -> int:
    path.evidence_key = changes.key_index(process_id, plant_id, meter_id)
    return path.evidence_key


_parse_value = plaus.parse_value
_format_decimal = units.format_decimal
_sha256 = hashlib.sha256
_MIN_TS, _MAX_TS = plaus.MIN_TS, plaus.MAX_TS
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
