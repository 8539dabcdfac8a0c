"""Admission of one Reading: validate and normalise it, or name the outcome why not.

Called once per reading (tens of thousands a second per worker): each protobuf field is read once
(upb builds a new object per access), and the event time and its hour are built from the integer
seconds with cached hours and offsets instead of datetime arithmetic and `hour_start`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import telemetry_pb2
from epd_intensity.core.activities import ActivitySpec, classify
from epd_intensity.core.decimals import QuantityError, parse_quantity
from epd_intensity.core.outcomes import Outcome
from epd_intensity.processes import ProcessConfig

# Timestamps outside this range are malformed (protects datetime arithmetic and window ids).
_MIN_SECONDS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
_MAX_SECONDS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BAD = telemetry_pb2.READING_QUALITY_BAD
_HEX_DIGITS = "0123456789abcdef"
# Hour starts by epoch second, made once each (readings of a worker span few hours at a time); the
# cache is emptied when it holds six weeks of hours (a long replay), so it stays small.
_HOURS: dict[int, datetime] = {}
_MAX_HOURS = 1_024
# (activity, kind, unit) of accepted readings -> (spec, spec.key): one lookup per reading instead of
# classify's checks and the unit comparison; unknown activities are not kept (they go through classify).
_KNOWN: dict[tuple[str, int, str], tuple[ActivitySpec, tuple[int, str, str]]] = {}
_MAX_KNOWN = 1_024
_SECONDS = tuple(timedelta(seconds=s) for s in range(3600))  # offset within the hour


class AdmittedReading(NamedTuple):  # a tuple: built once per reading, cheaper than a frozen dataclass
    reading_id: str
    reading_hash: str
    process: ProcessConfig
    spec: ActivitySpec
    key: tuple[int, str, str]  # (activity kind, activity code, unit)
    quantity: Decimal
    event_time: datetime
    ingested_at: datetime | None
    hour: datetime  # hour_start(event_time)


@dataclass(frozen=True)
class Refused:
    outcome: Outcome
    detail: str


def _hour(seconds: int) -> datetime:
    """The start of the UTC hour holding epoch second `seconds` (exact: no leap seconds in datetime)."""
    start = seconds - seconds % 3600
    hour = _HOURS.get(start)
    if hour is None:
        if len(_HOURS) >= _MAX_HOURS:
            _HOURS.clear()
        hour = _HOURS[start] = _EPOCH + timedelta(seconds=start)
    return hour


def _time(ts: Timestamp) -> tuple[datetime, datetime] | None:
    """(moment, its hour's start) of a Timestamp; None when unset (zero) or out of range."""
    seconds, nanos = ts.seconds, ts.nanos
    if not _MIN_SECONDS <= seconds < _MAX_SECONDS or not 0 <= nanos < 1_000_000_000:
        return None
    hour = _hour(seconds)
    moment = hour + _SECONDS[seconds % 3600]
    if nanos >= 1000:
        moment += timedelta(microseconds=nanos // 1000)
    return moment, hour


def admit(reading: telemetry_pb2.Reading, processes: Mapping[str, ProcessConfig]) -> AdmittedReading | Refused:
    """Pure and total: any Reading gives an AdmittedReading or a Refused outcome, never an exception."""
    process_id = reading.process_id
    process = processes.get(process_id)
    if process is None:
        return Refused(Outcome.UNKNOWN_PROCESS, f"process {process_id[:80]!r} not configured")
    plant_id = reading.plant_id
    if plant_id != process.plant_id:
        return Refused(Outcome.MALFORMED, f"plant {plant_id[:80]!r} does not run {process.process_id}")
    reading_id = reading.reading_id
    if not reading_id or len(reading_id) > 128:
        return Refused(Outcome.MALFORMED, "reading_id empty or longer than 128")
    reading_hash = reading.reading_hash
    # evidence.is_reading_hash (a protobuf string is a str): 64 characters, all lowercase hex digits
    if len(reading_hash) != 64 or reading_hash.strip(_HEX_DIGITS):
        return Refused(Outcome.MALFORMED, "reading_hash is not lowercase hex SHA-256")
    # An unset observed_at reads as zero seconds: outside the range as well.
    observed = _time(reading.observed_at)
    if observed is None:
        return Refused(Outcome.MALFORMED, "observed_at missing or outside 2000..2100")
    if reading.quality == _BAD:
        return Refused(Outcome.BAD_QUALITY, "quality BAD")
    activity, kind, unit = reading.activity, reading.activity_kind, reading.unit
    known = _KNOWN.get((activity, kind, unit))
    if known is None:
        spec = classify(activity, kind)
        if spec is None or unit != spec.unit:
            return Refused(
                Outcome.UNKNOWN_ACTIVITY,
                f"activity {activity[:64]!r} kind {kind} unit {unit[:16]!r}",
            )
        if len(_KNOWN) >= _MAX_KNOWN:
            _KNOWN.clear()
        known = _KNOWN[(activity, kind, unit)] = (spec, spec.key)
    spec, key = known
    try:
        quantity = parse_quantity(reading.quantity)
    except QuantityError as exc:
        return Refused(Outcome.MALFORMED, str(exc))
    if spec.product:
        product = reading.product_id or spec.product
        if product != spec.product or product not in process.products:
            return Refused(Outcome.UNKNOWN_PRODUCT, f"product {product[:64]!r} not made by {process.process_id}")
    ingested = _time(reading.ingested_at)  # unset or out of range: no ingestion time
    return AdmittedReading(
        reading_id,
        reading_hash,
        process,
        spec,
        key,
        quantity,
        observed[0],
        None if ingested is None else ingested[0],
        observed[1],
    )
