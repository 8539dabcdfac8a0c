"""The per-reading fast paths give exactly what the plain computations they replace give."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from intensity_builders import at, reading
from intensity_day import EXAMPLE_CONFIG

from epd_intensity.app.processor import _rolling_starts
from epd_intensity.core import hour_start
from epd_intensity.core.evidence import is_reading_hash
from epd_intensity.core.ids import SIZE_NAMES, WINDOW_NAMESPACE, _stamp, window_id
from epd_intensity.core.readings import Refused, _time, admit
from epd_intensity.core.rolling import ROLLING_30D, derived_windows_of_hour
from epd_intensity.core.watermark import WatermarkPolicy
from epd_intensity.processes import load_processes

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_event_time_and_hour_from_cached_hours_equal_datetime_arithmetic():
    rng = random.Random(18)
    low, high = int(at("2000-01-01T00:00:00").timestamp()), int(at("2100-01-01T00:00:00").timestamp())
    for _ in range(5000):
        seconds, nanos = rng.randrange(low, high), rng.choice((0, 999, 1000, rng.randrange(10**9)))
        timed = _time(Timestamp(seconds=seconds, nanos=nanos))
        assert timed is not None
        moment, hour = timed
        assert moment == _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
        assert hour == hour_start(moment) and hour.tzinfo is UTC


def test_unset_and_out_of_range_timestamps_give_no_time():
    assert _time(Timestamp()) is None
    assert _time(Timestamp(seconds=int(at("2100-01-01T00:00:00").timestamp()))) is None
    assert _time(Timestamp(seconds=int(at("2024-01-01T00:00:00").timestamp()), nanos=-1)) is None


def test_decide_with_the_hour_given_equals_decide_without():
    policy, lateness = WatermarkPolicy(), timedelta(hours=2)
    watermark = at("2024-03-10T12:00:00")
    for minute in range(-300, 120, 7):
        moment = watermark + timedelta(minutes=minute, seconds=13)
        for ingested in (None, watermark, watermark - timedelta(hours=1)):
            assert policy.decide(moment, watermark, lateness, ingested, hour_start(moment)) == policy.decide(
                moment, watermark, lateness, ingested
            )


def test_window_id_stamp_equals_strftime():
    rng = random.Random(7)
    moments = [datetime(999, 12, 31, 23, tzinfo=UTC), datetime(1000, 1, 1, tzinfo=UTC)]
    moments += [at("2000-01-01T00:00:00") + timedelta(seconds=rng.randrange(3_000_000_000)) for _ in range(2000)]
    moments.append(at("2024-03-10T05:00:00") + timedelta(microseconds=123))
    for moment in moments:
        assert _stamp(moment) == moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment


def test_rolling_starts_are_derived_windows_of_every_hour_of_the_day():
    day = at("2024-03-10T00:00:00")
    expected = tuple(start for size, start in derived_windows_of_hour(day) if size == ROLLING_30D)
    assert _rolling_starts(day) == expected
    for hour in range(24):
        moment = day + timedelta(hours=hour)
        assert tuple(s for size, s in derived_windows_of_hour(moment) if size == ROLLING_30D) == expected


def test_window_id_equals_uuid5_of_its_name():
    rng = random.Random(5)
    start = at("2024-03-10T00:00:00")
    for _ in range(500):
        pid = rng.choice(("baotou-1/roasting", "包头-1/焙烧", "p" * 120, ""))
        size = rng.choice(tuple(SIZE_NAMES))
        moment, revision = start + timedelta(hours=rng.randrange(10_000)), rng.randrange(1000)
        name = f"{pid}|{_stamp(moment)}|{SIZE_NAMES[size]}|{revision}"
        assert window_id(pid, moment, size, revision) == str(uuid.uuid5(WINDOW_NAMESPACE, name))


def test_admitted_reading_hashes_are_exactly_lowercase_hex_sha256():
    processes = load_processes(EXAMPLE_CONFIG)
    good = "0123456789abcdef" * 4
    cases = [
        good,
        good.upper(),
        good[:-1],
        good + "0",
        good[:-1] + "\n",
        good[:-1] + "g",
        good[:-1] + "٣",
        "",
        " " + good[1:],
    ]
    for value in cases:
        admitted = admit(
            reading("baotou-1/roasting", "electricity.grid", "1.0", "2024-03-10T01:00:00", reading_hash=value),
            processes,
        )
        assert isinstance(admitted, Refused) == (not is_reading_hash(value)), value
