import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from intensity_builders import at, reading

from epd.v1 import intensity_pb2, telemetry_pb2
from epd_intensity.core import (
    Bucket,
    Outcome,
    QuantityError,
    Refused,
    WatermarkPolicy,
    admit,
    merkle_root,
    parse_quantity,
    window_id,
    wire,
)
from epd_intensity.core.decimals import INTENSITY

H = [hashlib.sha256(bytes([i])).hexdigest() for i in range(5)]


def test_merkle_root_is_order_independent_and_hand_checkable():
    assert merkle_root(H) == merkle_root(reversed(H)) == merkle_root(H + H[:2])
    leaf = lambda h: hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest()  # noqa: E731
    a, b = sorted(H[:2])
    assert merkle_root(H[:2]) == hashlib.sha256(b"\x01" + leaf(a) + leaf(b)).hexdigest()
    assert merkle_root([H[0]]) == leaf(H[0]).hex()
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()
    with pytest.raises(ValueError):
        merkle_root(["XYZ"])


def test_window_ids_are_deterministic_and_distinct():
    start = at("2023-05-01T10:00:00")
    ids = {window_id("p/x", start, size, rev) for size in (1, 2, 3) for rev in (0, 1)}
    assert len(ids) == 6
    assert window_id("p/x", start, 1, 0) == window_id("p/x", start.astimezone(), 1, 0)
    with pytest.raises(ValueError):
        window_id("p/x", start, 99, 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-1",
        "1e3",
        "NaN",
        "Infinity",
        " 1",
        "1.",
        ".5",
        "1,5",
        "0x10",
        "9" * 16,
        "1." + "1" * 13,
        "2000000000000",
        "\x001",
    ],
)
def test_hostile_quantities_are_refused(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_quantities_and_wire_format():
    assert parse_quantity("000123.450") == Decimal("123.45")
    assert wire(Decimal("0.0000005")) == "0.000000"  # half-even down
    assert wire(Decimal("0.0000015")) == "0.000002"  # half-even up
    assert wire(Decimal("-0.0000001")) == "0.000000"  # never negative zero
    assert wire(Decimal("2") / Decimal("3"), INTENSITY) == "0.666666667"


def test_watermark_policy_decisions():
    p, lateness = WatermarkPolicy(), timedelta(hours=1)
    wm = at("2023-05-01T11:05:00")
    assert p.decide(at("2023-05-01T11:30:00"), wm, lateness) == Outcome.ACCEPTED
    assert p.decide(at("2023-05-01T10:59:59"), wm, lateness) == Outcome.LATE_REVISION
    assert p.decide(at("2023-05-01T09:59:00"), wm, lateness) == Outcome.TOO_LATE
    assert p.decide(at("2023-05-01T09:00:00"), None, lateness) == Outcome.ACCEPTED
    assert p.decide(at("2023-05-01T12:00:00"), wm, lateness, ingested_at=at("2023-05-01T11:00:00")) == Outcome.FUTURE
    assert p.is_closed(at("2023-05-01T11:00:00"), wm) and not p.is_final(at("2023-05-01T11:00:00"), wm, lateness)


def _refused(r, processes):
    out = admit(r, processes)
    assert isinstance(out, Refused), out
    return out.outcome


def test_admission_refuses_hostile_readings(processes):
    when = "2023-05-01T10:00:00"
    assert _refused(reading("nobody/x", "electricity.grid", "1", when), processes) == Outcome.UNKNOWN_PROCESS
    assert (
        _refused(reading("east-1/line", "electricity.grid", "1", when, plant_id="sw-1"), processes) == Outcome.MALFORMED
    )
    assert (
        _refused(reading("east-1/line", "electricity.grid", "1", when, reading_hash="nothex"), processes)
        == Outcome.MALFORMED
    )
    no_id = reading("east-1/line", "electricity.grid", "1", when)
    no_id.reading_id = ""
    assert _refused(no_id, processes) == Outcome.MALFORMED
    assert _refused(reading("east-1/line", "electricity.grid", "-5", when), processes) == Outcome.MALFORMED
    assert (
        _refused(reading("east-1/line", "electricity.grid", "1", "1970-01-01T00:00:00"), processes) == Outcome.MALFORMED
    )
    assert (
        _refused(reading("east-1/line", "electricity.grid", "1", when, unit="MWh"), processes)
        == Outcome.UNKNOWN_ACTIVITY
    )
    assert (
        _refused(
            reading("east-1/line", "electricity.grid", "1", when, activity_kind=telemetry_pb2.ACTIVITY_KIND_FUEL),
            processes,
        )
        == Outcome.UNKNOWN_ACTIVITY
    )
    assert _refused(reading("east-1/line", "plutonium.x", "1", when), processes) == Outcome.UNKNOWN_ACTIVITY
    assert _refused(reading("east-1/line", "gas.xenon", "1", when), processes) == Outcome.UNKNOWN_ACTIVITY
    assert _refused(reading("east-1/line", "output.gizmo", "1", when), processes) == Outcome.UNKNOWN_PRODUCT
    assert (
        _refused(
            reading("east-1/line", "electricity.grid", "1", when, quality=telemetry_pb2.READING_QUALITY_BAD), processes
        )
        == Outcome.BAD_QUALITY
    )
    bad_ts = reading("east-1/line", "electricity.grid", "1", when)
    bad_ts.observed_at.nanos = -1
    assert _refused(bad_ts, processes) == Outcome.MALFORMED
    assert _refused(telemetry_pb2.Reading(), processes) == Outcome.UNKNOWN_PROCESS


def test_bucket_dedupes_and_round_trips(processes):
    r = admit(reading("east-1/line", "electricity.grid", "1.5", "2023-05-01T10:20:00"), processes)
    bucket = Bucket.for_reading(r)
    assert bucket.add(r) and not bucket.add(r)
    again = Bucket.from_dict(bucket.to_dict())
    assert again == bucket and again.merkle_root() == merkle_root([r.reading_hash])
    other_hour = admit(reading("east-1/line", "electricity.grid", "1", "2023-05-01T11:20:00"), processes)
    with pytest.raises(ValueError):
        bucket.add(other_hour)


def test_enum_values_used_match_the_proto():
    assert intensity_pb2.WINDOW_SIZE_HOURLY == 1 and intensity_pb2.EMISSION_SOURCE_SCOPE1_PFC == 3


def test_window_timestamps_equal_protobufs_own_conversion():
    """core/window.py builds Timestamps in integer arithmetic; the values must be FromDatetime's."""
    import random
    from datetime import timedelta, timezone

    from google.protobuf.timestamp_pb2 import Timestamp

    from epd_intensity.core.window import _ts

    rng = random.Random(5)
    for i in range(2000):
        moment = at("2000-01-01T00:00:00") + timedelta(
            seconds=rng.randrange(0, 3_000_000_000), microseconds=rng.randrange(0, 10**6)
        )
        if i % 3 == 0:
            moment = moment.astimezone(timezone(timedelta(hours=8)))  # Beijing time, same instant
        expected = Timestamp()
        expected.FromDatetime(moment)
        assert _ts(moment) == expected, moment
