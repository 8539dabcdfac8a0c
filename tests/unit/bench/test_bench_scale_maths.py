"""The scale report's arithmetic (bench/scale/maths.py, the send log of load.py): percentiles, rates,
lag recovery, the oracle comparison and the sizing derivation, with numbers worked by hand."""

from __future__ import annotations

import math

import pytest

from bench.scale import maths
from bench.scale.load import SendLog
from bench.scale.maths import Spread


def test_percentiles_interpolate_between_closest_ranks():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert maths.percentile(values, 50) == 3.0
    assert maths.percentile(values, 0) == 1.0
    assert maths.percentile(values, 100) == 5.0
    assert maths.percentile(values, 99) == pytest.approx(4.96)  # rank 3.96: 4 + 0.96 x (5 - 4)
    assert maths.percentile([7.0], 99) == 7.0
    assert math.isnan(maths.percentile([], 50))
    with pytest.raises(ValueError):
        maths.percentile(values, 101)


def test_a_spread_of_no_samples_says_so():
    s = Spread.of([])
    assert s.n == 0 and math.isnan(s.p50) and math.isnan(s.max)
    assert Spread.of([1.0, 3.0]) == Spread(2, 2.0, pytest.approx(2.98), 3.0)


def test_rate_is_the_counters_slope_inside_the_interval():
    samples = [(0.0, 0.0), (1.0, 100.0), (2.0, 250.0), (3.0, 400.0), (10.0, 1000.0)]
    assert maths.rate(samples, 1.0, 3.0) == 150.0
    assert math.isnan(maths.rate(samples, 4.0, 9.0))


def test_drain_time_is_until_the_lag_stays_at_the_threshold():
    lag = [(0.0, 50.0), (1.0, 80.0), (2.0, 0.0), (3.0, 10.0), (4.0, 0.0), (5.0, 0.0)]
    assert maths.drain_time(lag, 0.0) == 4.0  # it touched 0 at 2 s but rose again
    assert maths.drain_time(lag, 0.0, threshold=10) == 2.0
    assert maths.drain_time(lag[:4], 0.0) is None  # still above at the last sample
    assert maths.drain_time([(0.0, 0.0), (1.0, 0.0)], 0.0) == 0.0


def test_lag_recovery_is_measured_against_the_minute_before_the_fault():
    before = [(float(t), 10.0) for t in range(40, 100)]  # steady lag of 10 before the fault at 100 s
    after = [(100.0, 15.0), (101.0, 400.0), (110.0, 900.0), (125.0, 30.0), (130.0, 12.0), (140.0, 9.0)]
    # threshold: max(floor 5, 2 x p99 of 10) = 20; last sample above it is 125 s -> recovered at 130 s
    assert maths.recovery_threshold([10.0] * 60, 5) == 20.0
    assert maths.lag_recovery(before + after, 100.0, 140.0, floor=5) == 30.0
    assert maths.lag_recovery(before + after[:3], 100.0, 110.0, floor=5) is None
    assert maths.recovery_threshold([], 100) == 100


def test_lag_recovery_holds_for_a_while_and_a_later_tooth_does_not_undo_it():
    before = [(float(t), 10.0) for t in range(40, 100)]  # threshold 20
    dip = [(100.0, 500.0), (105.0, 15.0), (110.0, 300.0)]  # back under for 5 s only: not recovered there
    settle = [(float(t), 5.0) for t in range(115, 140)]  # back under from 115 s and held past 130 s
    tooth = [(150.0, 80.0), (151.0, 5.0)]  # a committed-offset sawtooth tooth long after
    samples = before + dip + settle + tooth + [(160.0, 5.0)]
    assert maths.lag_recovery(samples, 100.0, 170.0, floor=5) == 15.0
    # a 60 s hold: the tooth at 150 s breaks the hold from 115 s; from 151 s it holds to the next fault (170 s)
    assert maths.lag_recovery(samples, 100.0, 170.0, floor=5, hold=60.0) == 51.0
    assert maths.lag_recovery(before, 100.0, 170.0, floor=5) is None  # no sample after the fault


def test_lag_trace_takes_the_last_sample_at_or_before_each_offset():
    samples = [(99.0, 1.0), (100.0, 10.0), (112.0, 50.0), (131.0, 7.0)]
    assert maths.lag_trace(samples, 100.0, [0, 15, 30, 45]) == [(0, 10.0), (15, 50.0), (30, 50.0), (45, 7.0)]
    assert maths.lag_trace(samples, 200.0, [0]) == [(0, None)]


def _w(process: str, start: float, revision: int, body: bytes) -> tuple[maths.WindowKey, int, str, bytes]:
    return (process, 1, start), revision, f"{process}@{start}#{revision}", body


def test_oracle_comparison_takes_the_latest_revision_and_names_every_difference():
    oracle = {
        ("p/a", 1, 0.0): ("p/a@0.0#1", b"a1"),
        ("p/a", 1, 3600.0): ("p/a@3600.0#0", b"a2"),
        ("p/b", 1, 0.0): ("p/b@0.0#0", b"b"),
    }
    sent = [
        _w("p/a", 0.0, 0, b"a0"),
        _w("p/a", 0.0, 1, b"a1"),  # revised: the latest counts
        _w("p/a", 0.0, 1, b"a1"),  # a replay after a restart: same id, same bytes
        _w("p/a", 3600.0, 0, b"a2-plus-a-reading"),  # counted a reading twice
        _w("p/c", 0.0, 0, b"c"),  # no such window in the oracle
    ]
    c = maths.compare_windows(sent, oracle)
    assert (c.expected, c.matched) == (3, 1)
    assert c.missing == ("p/b@0.0#0",)
    assert c.extra == ("p/c@0.0#0",)
    assert c.different == ("p/a@3600.0#0",)
    assert c.conflicting == () and not c.exact
    conflicting = maths.compare_windows([_w("p/b", 0.0, 0, b"b"), _w("p/b", 0.0, 0, b"other")], oracle)
    assert conflicting.conflicting == ("p/b@0.0#0",)
    exact = maths.compare_windows(
        [_w("p/a", 0.0, 1, b"a1"), _w("p/a", 3600.0, 0, b"a2"), _w("p/b", 0.0, 0, b"b")], oracle
    )
    assert exact.exact and exact.matched == 3


def test_sizing_derives_workers_partitions_and_memory_from_one_process_figures():
    z = maths.size_for(
        1000,
        meters_per_plant=40,
        interval_s=10,
        per_worker_readings_s={"ingest": 1500.0, "intensity": 3000.0},
        memory_base_mib={"ingest": 100.0, "intensity": 200.0},
        memory_per_plant_mib={"ingest": 0.01, "intensity": 0.5},
    )
    # 1,000 x 40 / 10 = 4,000 readings/s; with headroom 2: 8,000/s
    assert z.readings_per_s == 4000
    assert z.ingest_workers == 6  # ceil(8000 / 1500)
    assert z.intensity_workers == 3  # ceil(8000 / 3000)
    assert z.partitions == 12  # at least 12; 2 x 6 = 12
    assert z.ingest_memory_mib == pytest.approx(100 + 0.01 * 1000 / 6)
    assert z.intensity_memory_mib == pytest.approx(200 + 0.5 * 1000 / 3)
    many = maths.size_for(1000, 40, 10, {"ingest": 500.0, "intensity": 500.0}, {}, {})
    assert many.partitions == 32  # 16 workers each: 2 x 16
    unknown = maths.size_for(1000, 40, 10, {"ingest": math.nan}, {}, {})
    assert unknown.ingest_workers == 0 and unknown.intensity_workers == 0
    assert maths.per_plant_memory(100.0, 150.0, 500) == 0.1
    assert maths.per_plant_memory(100.0, 90.0, 500) == 0.0


def test_the_send_log_dates_the_closing_reading_and_counts_what_a_group_consumed():
    log = SendLog()
    log.record("p1", 100.0, partition=0, offset=0, n=40, now=1000.0)
    log.record("p1", 110.0, partition=0, offset=1, n=40, now=1001.0)
    log.record("p2", 100.0, partition=3, offset=0, n=16, now=1000.5)
    assert log.sent_at("p1", 105.0) == 1001.0  # first batch at or after the window's end
    assert log.sent_at("p1", 110.0) == 1001.0
    assert log.sent_at("p1", 111.0) is None
    assert log.readings_before({0: 1, 3: 0}) == 40  # committed offset 1: record 0 consumed
    assert log.readings_before({0: 2, 3: 1}) == 96
    assert log.readings_between(100.0, 110.0) == 56
    assert (log.readings, log.batches) == (96, 3)
