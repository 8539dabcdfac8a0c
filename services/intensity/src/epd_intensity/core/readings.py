"""Admission of one Reading: validate and normalise it, or name the outcome why not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from epd.v1 import telemetry_pb2
from epd_intensity.core.activities import ActivitySpec, classify
from epd_intensity.core.decimals import QuantityError, parse_quantity
from epd_intensity.core.evidence import is_reading_hash
from epd_intensity.core.outcomes import Outcome
from epd_intensity.processes import ProcessConfig

# Timestamps outside this range are malformed (protects datetime arithmetic and window ids).
_MIN_SECONDS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
_MAX_SECONDS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AdmittedReading(NamedTuple):  # a tuple: built once per reading, cheaper than a frozen dataclass
    reading_id: str
    reading_hash: str
    process: ProcessConfig
    spec: ActivitySpec
    key: tuple[int, str, str]  # (activity kind, activity code, unit)
    quantity: Decimal
    event_time: datetime
    ingested_at: datetime | None


@dataclass(frozen=True)
class Refused:
    outcome: Outcome
    detail: str


def _time(ts: object) -> datetime | None:
    seconds, nanos = getattr(ts, "seconds", 0), getattr(ts, "nanos", 0)
    if not _MIN_SECONDS <= seconds < _MAX_SECONDS or not 0 <= nanos < 1_000_000_000:
        return None
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def admit(reading: telemetry_pb2.Reading, processes: Mapping[str, ProcessConfig]) -> AdmittedReading | Refused:
    """Pure and total: any Reading gives an AdmittedReading or a Refused outcome, never an exception."""
    process = processes.get(reading.process_id)
    if process is None:
        return Refused(Outcome.UNKNOWN_PROCESS, f"process {reading.process_id[:80]!r} not configured")
    if reading.plant_id != process.plant_id:
        return Refused(Outcome.MALFORMED, f"plant {reading.plant_id[:80]!r} does not run {process.process_id}")
    if not reading.reading_id or len(reading.reading_id) > 128:
        return Refused(Outcome.MALFORMED, "reading_id empty or longer than 128")
    if not is_reading_hash(reading.reading_hash):
        return Refused(Outcome.MALFORMED, "reading_hash is not lowercase hex SHA-256")
    if not reading.HasField("observed_at") or (event_time := _time(reading.observed_at)) is None:
        return Refused(Outcome.MALFORMED, "observed_at missing or outside 2000..2100")
    if reading.quality == telemetry_pb2.READING_QUALITY_BAD:
        return Refused(Outcome.BAD_QUALITY, "quality BAD")
    spec = classify(reading.activity, reading.activity_kind)
    if spec is None or reading.unit != spec.unit:
        return Refused(
            Outcome.UNKNOWN_ACTIVITY,
            f"activity {reading.activity[:64]!r} kind {reading.activity_kind} unit {reading.unit[:16]!r}",
        )
    try:
        quantity = parse_quantity(reading.quantity)
    except QuantityError as exc:
        return Refused(Outcome.MALFORMED, str(exc))
    code = spec.code
    if spec.product:
        product = reading.product_id or spec.product
        if product != spec.product or product not in process.products:
            return Refused(Outcome.UNKNOWN_PRODUCT, f"product {product[:64]!r} not made by {process.process_id}")
    ingested = _time(reading.ingested_at) if reading.HasField("ingested_at") else None
    return AdmittedReading(
        reading.reading_id,
        reading.reading_hash,
        process,
        spec,
        (spec.kind, code, spec.unit),
        quantity,
        event_time,
        ingested,
    )
