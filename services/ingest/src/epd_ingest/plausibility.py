"""Plausibility checks on one reading: number syntax and range, sign, timestamps, rates.

Each check returns None when the reading passes, else a Finding (reason code + detail); nothing
here raises on hostile input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from google.protobuf import timestamp_pb2

from epd.v1 import telemetry_pb2
from epd_common.reading_values import out_of_range

RR = telemetry_pb2.RejectionReason

MAX_VALUE_CHARS = 64
# google.protobuf.Timestamp's valid range is 0001-01-01 .. 9999-12-31.
MIN_TS, MAX_TS = -62_135_596_800, 253_402_300_799


@dataclass(frozen=True)
class Finding:
    reason: telemetry_pb2.RejectionReason
    detail: str
    batch_id: str = ""  # a batch-level finding about a batch whose signature verified: its id, for the audit


def parse_value(text: str) -> Decimal | Finding:
    """Decimal string -> Decimal; NaN/Infinity -> NOT_FINITE; junk -> MALFORMED; a value no meter
    reads (epd_common.reading_values) -> OUT_OF_RANGE."""
    if not text or len(text) > MAX_VALUE_CHARS:
        return Finding(RR.REJECTION_REASON_MALFORMED, f"value must be a decimal string of 1..{MAX_VALUE_CHARS} chars")
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return Finding(RR.REJECTION_REASON_MALFORMED, f"value {text[:32]!r} is not a decimal number")
    if not value.is_finite():
        return Finding(RR.REJECTION_REASON_NOT_FINITE, f"value {text[:32]!r} is not finite")
    if (problem := out_of_range(value)) is not None:  # check_range's finding, its detail formatted only here
        return Finding(RR.REJECTION_REASON_OUT_OF_RANGE, f"value {text[:32]!r}: {problem}")
    return value


def check_range(value: Decimal, what: str) -> Decimal | Finding:
    """`value` itself when it is inside the range of a reading, else an OUT_OF_RANGE finding."""
    problem = out_of_range(value)
    if problem is not None:
        return Finding(RR.REJECTION_REASON_OUT_OF_RANGE, f"{what}: {problem}")
    return value


def timestamp_of(ts: timestamp_pb2.Timestamp, present: bool) -> datetime | Finding:
    if not present:
        return Finding(RR.REJECTION_REASON_MALFORMED, "observed_at is missing")
    if not (MIN_TS <= ts.seconds <= MAX_TS) or not (0 <= ts.nanos < 1_000_000_000):
        return Finding(RR.REJECTION_REASON_MALFORMED, "observed_at is outside the Timestamp range")
    return datetime.fromtimestamp(ts.seconds, UTC) + timedelta(microseconds=ts.nanos // 1000)


def check_time(observed_at: datetime, now: datetime, max_skew: timedelta, max_lateness: timedelta) -> Finding | None:
    if observed_at > now + max_skew:
        return Finding(
            RR.REJECTION_REASON_FUTURE_TIMESTAMP,
            f"observed_at {observed_at.isoformat()} is more than {max_skew} ahead of {now.isoformat()}",
        )
    if observed_at < now - max_lateness:
        return Finding(
            RR.REJECTION_REASON_TOO_LATE,
            f"observed_at {observed_at.isoformat()} is more than {max_lateness} behind {now.isoformat()}",
        )
    return None


def check_sign(value: Decimal) -> Finding | None:
    """Interval values and counter registers are never negative."""
    if value < 0:
        return Finding(RR.REJECTION_REASON_NEGATIVE_VALUE, f"value {value} is negative")
    return None


def check_rate(quantity: Decimal, elapsed: timedelta, max_rate_per_hour: Decimal | None, unit: str) -> Finding | None:
    """quantity over `elapsed` (floored at 1 s) must not exceed the meter's max rate."""
    if max_rate_per_hour is None:
        return None
    seconds = max(Decimal(1), Decimal(str(elapsed.total_seconds())))
    rate = quantity * Decimal(3600) / seconds
    if rate > max_rate_per_hour:
        return Finding(
            RR.REJECTION_REASON_IMPLAUSIBLE_RATE,
            f"{rate:.6g} {unit}/h over {seconds}s exceeds the meter's bound of {max_rate_per_hour} {unit}/h",
        )
    return None


def check_quality(quality: int) -> Finding | None:
    if quality == telemetry_pb2.ReadingQuality.READING_QUALITY_BAD:
        return Finding(RR.REJECTION_REASON_BAD_QUALITY, "source flagged the value as BAD")
    return None
