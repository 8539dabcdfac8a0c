"""The scale report from measured figures: latencies dated against the send log, fault recovery per
fault, and the markdown it writes (bench/scale/analyse.py, report.py)."""

from __future__ import annotations

import datetime as dt

from bench.scale import analyse, maths
from bench.scale.load import Phase, SendLog
from bench.scale.observe import LagSeries, Outputs
from bench.scale.report import Fault, Report, StageFigures, render
from bench.scale.scenario import Timeline
from epd.v1 import footprint_pb2
from epd_common.topics import TELEMETRY_RAW, TELEMETRY_READINGS

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_window_and_version_latencies_start_at_the_reading_that_closed_the_window():
    log = SendLog()
    log.record("p1", 3590.0, 0, 0, 40, now=1000.0)
    log.record("p1", 3600.0, 0, 1, 40, now=1002.0)  # the first reading at the hour's end
    out = Outputs()
    out.hourly_first.append(("p1", 3600.0, 1002.5))
    out.window_end["w1"] = ("p1", 3600.0)
    assert analyse.window_latencies(out, log, 1000.0, 1010.0) == [0.5]
    assert analyse.window_latencies(out, log, 1003.0, 1010.0) == []  # written outside the interval
    v = footprint_pb2.FootprintVersion(pf_id="urn:uuid:abc", evidence=[footprint_pb2.EvidenceLink(window_id="w1")])
    out.versions.append((1005.0, v))
    out.versions.append((10.0, footprint_pb2.FootprintVersion(pf_id="old")))  # before the load: not counted
    to_version, to_partner = analyse.version_latencies(out, log, [{"t": 1007.0, "pf_id": "abc"}], after=100.0)
    assert to_version == [3.0] and to_partner == [5.0]


def test_each_fault_recovers_before_the_next_one():
    series = LagSeries()
    prefix = "x."
    for t in range(300):
        lag = 10.0
        if 100 <= t < 130:  # the intensity worker killed at 100 s
            lag = 5000.0
        if 200 <= t < 260:  # the broker killed at 200 s
            lag = 8000.0
        series.lag[("x.epd-intensity", TELEMETRY_READINGS.topic(prefix))].append((float(t), lag))
        series.lag[("x.epd-ingest", TELEMETRY_RAW.topic(prefix))].append((float(t), 0.0))
    timeline = Timeline()
    timeline.phases.append((2, Phase("live", T0, T0, 1.0), 0.0, 290.0))
    timeline.phases.append((2, Phase("backlog", T0, T0, None), 290.0, 300.0))
    timeline.faults += [("kill worker", 100.0, 290.0), ("kill broker", 200.0, 290.0)]
    faults = analyse.faults(timeline, series, prefix)
    assert [(f.what, f.at_s, f.recovery_s) for f in faults] == [
        ("kill worker", 100.0, 30.0),
        ("kill broker", 200.0, 60.0),
    ]


def test_the_report_renders_every_section():
    spread = maths.Spread.of([1.0, 2.0, 3.0])
    stage = StageFigures(
        workers=1,
        live_offered_rps=2000.0,
        live_ingest_rps=1990.0,
        backlog_readings=100_000,
        backlog_send_rps=9000.0,
        backlog_ingest_rps=3000.0,
        backlog_pipeline_rps=2500.0,
        backlog_drained_s=40.0,
        intensity_records_rps=2500.0,
        lag_p99={"ingest (raw)": 12.0, "intensity (readings)": 30000.0},
        latency={"reading→window, live": spread, "reading→window, backlog": maths.Spread.of([])},
    )
    comparison = maths.compare_windows([], {("p/a", 1, 0.0): ("w", b"x")})
    sizing = maths.size_for(1000, 41, 10, {"ingest": 3000.0, "intensity": 2500.0}, {}, {})
    text = render(
        Report(
            command="make bench-scale",
            parameters={"plants": 500, "meters per plant": "41.0", "interval s": 10},
            machine="a machine",
            stages=[stage],
            end_to_end={"reading→version": spread},
            memory={"intensity-1": (120.0, 480.0)},
            faults=[
                Fault("SIGKILL broker 2", 150.0, None),
                Fault("SIGKILL intensity-2", 30.0, 42.0, 240.0, [(0.0, 120.0), (15.0, 5400.0), (30.0, None)]),
            ],
            readings="all there",
            oracle=comparison,
            oracle_scope="3 plants",
            sizing=sizing,
            bottleneck="intensity",
            notes=["a note"],
        )
    )
    for expected in (
        "| 1 + 1 | 2,000 | 1,990 | 100,000 |",
        "| 1 + 1 | 12 | 30,000 |",
        "2.00 / 2.98 (n=3, max 3.00)",
        "no samples",
        "| intensity-1 | 120 | 480 |",
        "lag NOT back",
        "after 42.0 s (held 15 s)",
        "recovered at or below 240): +0 s 120, +15 s 5,400, +30 s n/a",
        "DIFFERENT from the oracle's: 0 of 1",
        "| 4,100 readings/s | 12 |",
        "- a note",
    ):
        assert expected in text, expected
