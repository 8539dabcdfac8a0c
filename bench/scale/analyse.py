"""From the run's raw measurements (scenario.run) to the report's figures (report.Report)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from epd_common.topics import FOOTPRINT_CHANGES, INTENSITY_WINDOWS, TELEMETRY_RAW, TELEMETRY_READINGS

from . import maths
from .load import SendLog
from .maths import Spread
from .observe import LagSeries, Memory, Outputs
from .report import Fault, StageFigures
from .scenario import Timeline

STAGE_OF_TOPIC = {
    TELEMETRY_RAW.name: "ingest (raw)",
    TELEMETRY_READINGS.name: "intensity (readings)",
    INTENSITY_WINDOWS.name: "footprint (windows)",
    FOOTPRINT_CHANGES.name: "publisher (changes)",
}


def stage_name(prefix: str, group: str, topic: str) -> str:
    bare = topic.removeprefix(prefix)
    return STAGE_OF_TOPIC.get(bare, f"{group.removeprefix(prefix)} ({bare})")


def _group_lag(series: LagSeries, prefix: str, stage: str) -> list[tuple[float, float]]:
    """One stage's lag over time (the sum over its groups on that topic)."""
    merged: dict[float, float] = {}
    for (group, topic), samples in series.lag.items():
        if stage_name(prefix, group, topic) == stage:
            for t, v in samples:
                merged[t] = merged.get(t, 0) + v
    return sorted(merged.items())


def _ingest_readings(series: LagSeries, prefix: str, sendlog: SendLog) -> list[tuple[float, float]]:
    out = []
    for (_, topic), samples in series.committed.items():
        if topic == TELEMETRY_RAW.topic(prefix):
            out += [(t, float(sendlog.readings_before(parts))) for t, parts in samples]
    return sorted(out)


def _records(series: LagSeries, prefix: str, topic: str) -> list[tuple[float, float]]:
    out = []
    for (_, t_name), samples in series.committed.items():
        if t_name == topic:
            out += [(t, float(sum(parts.values()))) for t, parts in samples]
    return sorted(out)


def window_latencies(outputs: Outputs, sendlog: SendLog, start: float, end: float) -> list[float]:
    """Seconds from the send of the first reading at or after an hourly window's end (the reading that
    closed it) until the window was written; windows written within [start, end]."""
    out = []
    for plant, window_end, written in outputs.hourly_first:
        if start <= written <= end and (sent := sendlog.sent_at(plant, window_end)) is not None:
            out.append(written - sent)
    return out


def version_latencies(
    outputs: Outputs, sendlog: SendLog, deliveries: list[dict], after: float
) -> tuple[list[float], list[float]]:
    """Reading→version and reading→partner: from the send of the reading that closed the latest window a
    version's evidence names, to the version's record and to its webhook's arrival."""
    arrived: dict[str, float] = {}
    for d in deliveries:
        pf = str(d.get("pf_id", "")).removeprefix("urn:uuid:")
        if pf:
            arrived.setdefault(pf, float(d["t"]))
    to_version, to_partner = [], []
    for written, v in outputs.versions:
        if written < after or not v.evidence:
            continue
        ends = [outputs.window_end[e.window_id] for e in v.evidence if e.window_id in outputs.window_end]
        if not ends:
            continue
        plant, end = max(ends, key=lambda pe: pe[1])
        sent = sendlog.sent_at(plant, end)
        if sent is None:
            continue
        to_version.append(written - sent)
        if (t := arrived.get(v.pf_id.removeprefix("urn:uuid:"))) is not None:
            to_partner.append(t - sent)
    return to_version, to_partner


def stage_figures(
    prefix: str, n: int, timeline: Timeline, series: LagSeries, outputs: Outputs, sendlog: SendLog
) -> StageFigures:
    (_, live, la, lb), (_, backlog, ba, bb) = [ph for ph in timeline.phases if ph[0] == n]
    ingest = _ingest_readings(series, prefix, sendlog)
    drained = timeline.drained.get(n)
    end = drained or bb
    sent_backlog = sendlog.readings_between(backlog.sim_start.timestamp(), backlog.sim_end.timestamp())
    sent_live = sendlog.readings_between(live.sim_start.timestamp(), live.sim_end.timestamp())
    stages = sorted({stage_name(prefix, g, t) for g, t in series.lag})
    lag_p99 = {}
    for stage in stages:
        values = [v for t, v in _group_lag(series, prefix, stage) if la <= t <= end]
        lag_p99[stage] = maths.percentile(values, 99)
    return StageFigures(
        workers=n,
        live_offered_rps=sent_live / (lb - la) if lb > la else math.nan,
        live_ingest_rps=maths.rate(ingest, la, lb),
        backlog_readings=sent_backlog,
        backlog_send_rps=sent_backlog / (bb - ba) if bb > ba else math.nan,
        backlog_ingest_rps=maths.rate(ingest, ba, end),
        backlog_pipeline_rps=sent_backlog / (drained - ba) if drained else math.nan,
        backlog_drained_s=(drained - ba) if drained else None,
        intensity_records_rps=maths.rate(_records(series, prefix, TELEMETRY_READINGS.topic(prefix)), ba, end),
        lag_p99=lag_p99,
        latency={
            "reading→window, live": Spread.of(window_latencies(outputs, sendlog, la, ba)),
            "reading→window, backlog": Spread.of(window_latencies(outputs, sendlog, ba, end)),
        },
    )


TRACE_OFFSETS_S = (0, 15, 30, 45, 60, 75, 90, 120, 150, 180)  # the lag shown after each fault


def faults(timeline: Timeline, series: LagSeries, prefix: str, floor: float = 100) -> list[Fault]:
    """Each fault's lag recovery: ingest's and intensity's lag together (a broker's loss shows in both),
    back under twice its p99 of the minute before, until the next fault or the backlog phase."""
    lag = _sum(_group_lag(series, prefix, "intensity (readings)"), _group_lag(series, prefix, "ingest (raw)"))
    live_start = max((a for n, ph, a, b in timeline.phases if ph.speed is not None), default=0.0)
    ordered = sorted(timeline.faults, key=lambda f: f[1])
    out = []
    for i, (what, at, _) in enumerate(ordered):
        backlog = min((a for n, ph, a, b in timeline.phases if ph.speed is None and a > at), default=math.inf)
        until = min(ordered[i + 1][1] if i + 1 < len(ordered) else math.inf, backlog)
        before = [v for t, v in lag if at - 60 <= t < at]
        trace = maths.lag_trace(lag, at, [t for t in TRACE_OFFSETS_S if at + t < until] or [0.0])
        out.append(
            Fault(
                what,
                at - live_start,
                maths.lag_recovery(lag, at, until, floor),
                maths.recovery_threshold(before, floor),
                trace,
            )
        )
    return out


def _sum(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: dict[float, float] = {}
    for t, v in a + b:
        merged[t] = merged.get(t, 0) + v
    return sorted(merged.items())


def memory_table(memory: Memory) -> Mapping[str, tuple[float, float]]:
    return {name: (memory.first_mib.get(name, math.nan), peak) for name, peak in memory.peak_mib.items()}


def bottleneck(stages: list[StageFigures], cpu_s: Mapping[str, float], wall_s: float) -> str:
    """Where the time went, in measured terms: per worker count, the rates of each step of the backlog,
    which step's lag was highest, and the CPU each process used over the run."""
    lines = []
    for s in stages:
        worst = max(s.lag_p99.items(), key=lambda kv: -1 if math.isnan(kv[1]) else kv[1], default=("n/a", math.nan))
        lines.append(
            f"- {s.workers} + {s.workers} processes: the plants sent the backlog at {s.backlog_send_rps:,.0f}"
            f" readings/s, ingest consumed {s.backlog_ingest_rps:,.0f}/s, the pipeline drained at"
            f" {s.backlog_pipeline_rps:,.0f}/s; the highest lag p99 was {worst[0]} ({worst[1]:,.0f} records)."
        )
    total = sum(cpu_s.values()) or 1.0
    cores = f"{total / wall_s:.2f} cores on average" if wall_s > 0 else ""
    shares = ", ".join(f"{name} {sec / total:.0%}" for name, sec in sorted(cpu_s.items(), key=lambda kv: -kv[1]))
    lines.append(f"- CPU over the run ({total:,.0f} s, {cores}), by process: {shares}.")
    return "\n".join(lines)
