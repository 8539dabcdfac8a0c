"""bench/scale_results.md: the scale scenario's tables, from the figures the driver measured."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .maths import RECOVERY_HOLD_S, OracleComparison, Sizing, Spread


@dataclass
class StageFigures:
    workers: int
    live_offered_rps: float  # readings/s the plants sent in the paced phase
    live_ingest_rps: float  # readings/s ingest consumed over the paced phase
    backlog_readings: int
    backlog_send_rps: float  # how fast the plants' backlog went out (the producer's ceiling)
    backlog_ingest_rps: float  # readings/s ingest consumed while the backlog drained
    backlog_pipeline_rps: float  # backlog readings / time until ingest and intensity lag were zero
    backlog_drained_s: float | None
    intensity_records_rps: float  # records/s the intensity group committed while the backlog drained
    lag_p99: dict[str, float] = field(default_factory=dict)  # stage -> p99 lag (records) over the stage
    latency: dict[str, Spread] = field(default_factory=dict)  # "reading→window (live)" -> spread (s)


@dataclass
class Fault:
    what: str
    at_s: float  # seconds into the phase
    recovery_s: float | None
    threshold: float = math.nan  # lag (records) counted as recovered: twice the p99 of the minute before
    trace: Sequence[tuple[float, float | None]] = ()  # (seconds after the fault, lag in records)


@dataclass
class Report:
    command: str
    parameters: Mapping[str, object]
    machine: str
    stages: Sequence[StageFigures]
    end_to_end: Mapping[str, Spread]  # reading→version, reading→partner (the whole run)
    memory: Mapping[str, tuple[float, float]]  # process -> (before load, peak) MiB
    faults: Sequence[Fault]
    readings: str  # the reading check, in words
    oracle: OracleComparison | None
    oracle_scope: str
    sizing: Sizing | None
    bottleneck: str
    notes: Sequence[str] = ()


def _n(v: float | None, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:,.{digits}f}"


def _spread(s: Spread) -> str:
    if not s.n:
        return "no samples"
    return f"{_n(s.p50, 2)} / {_n(s.p99, 2)} (n={s.n}, max {_n(s.max, 2)})"


def render(r: Report) -> str:
    lines = [
        "# Scale scenario (`make bench-scale`)",
        "",
        f"{r.machine}",
        "",
        f"Command: `{r.command}`",
        "",
        "Parameters: " + ", ".join(f"{k}={v}" for k, v in r.parameters.items()),
        "",
        "## Throughput per worker count",
        "",
        "Readings/s. *offered*: what the simulated plants sent in the paced (live) phase; *ingest*: readings"
        " ingest consumed (its group's committed offsets on the raw topic); *pipeline*: the backlog's readings"
        " divided by the time until ingest and intensity lag were both zero; *intensity records/s*: the"
        " intensity group's committed offsets on the readings topic.",
        "",
        "| ingest + intensity processes | live offered | live ingest | backlog readings | backlog sent/s |"
        " backlog ingest/s | backlog pipeline/s | drained in s | intensity records/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in r.stages:
        lines.append(
            f"| {s.workers} + {s.workers} | {_n(s.live_offered_rps)} | {_n(s.live_ingest_rps)} | {s.backlog_readings:,}"
            f" | {_n(s.backlog_send_rps)} | {_n(s.backlog_ingest_rps)} | {_n(s.backlog_pipeline_rps)}"
            f" | {_n(s.backlog_drained_s)} | {_n(s.intensity_records_rps)} |"
        )
    stages = sorted({k for s in r.stages for k in s.lag_p99})
    lines += [
        "",
        "## Consumer lag p99 per stage (records, sampled each second)",
        "",
        "| processes | " + " | ".join(stages) + " |",
        "|---:|" + "---:|" * len(stages),
    ]
    for s in r.stages:
        lines.append(f"| {s.workers} + {s.workers} | " + " | ".join(_n(s.lag_p99.get(k)) for k in stages) + " |")
    kinds = sorted({k for s in r.stages for k in s.latency})
    lines += ["", "## Latency (seconds, p50 / p99)", "", "| processes | " + " | ".join(kinds) + " |"]
    lines.append("|---:|" + "---|" * len(kinds))
    for s in r.stages:
        lines.append(f"| {s.workers} + {s.workers} | " + " | ".join(_spread(s.latency[k]) for k in kinds) + " |")
    lines += ["", "Over the whole run (versions come from the demo plants' drift):", ""]
    lines += [f"- {k}: {_spread(v)}" for k, v in r.end_to_end.items()]
    lines += ["", "## Peak memory per process (MiB, resident, with children)", "", "| process | before load | peak |"]
    lines.append("|---|---:|---:|")
    lines += [f"| {name} | {_n(a)} | {_n(b)} |" for name, (a, b) in sorted(r.memory.items())]
    lines += ["", "## Faults", ""]
    if not r.faults:
        lines.append("None injected (--no-chaos).")
    for f in r.faults:
        rec = (
            f"lag back under its pre-fault level after {_n(f.recovery_s, 1)} s (held {RECOVERY_HOLD_S:.0f} s)"
            if f.recovery_s is not None
            else ("lag NOT back under its pre-fault level before the next fault or the backlog phase")
        )
        lines.append(f"- {f.what} at {f.at_s:.0f} s into the live phase: {rec}")
        if f.trace:
            points = ", ".join(f"+{t:.0f} s {_n(v)}" for t, v in f.trace)
            lines.append(f"  - lag (ingest + intensity, records; recovered at or below {_n(f.threshold)}): {points}")
    lines += ["", "## Nothing lost, nothing counted twice", "", f"- Readings: {r.readings}"]
    if r.oracle is None:
        lines.append("- Windows: not compared (--no-oracle)")
    else:
        o = r.oracle
        verdict = "exactly the oracle's" if o.exact else "DIFFERENT from the oracle's"
        lines.append(
            f"- Windows ({r.oracle_scope}): {verdict}: {o.matched:,} of {o.expected:,} final windows identical;"
            f" missing {len(o.missing)}, extra {len(o.extra)}, different {len(o.different)},"
            f" conflicting duplicates {len(o.conflicting)}"
        )
        for label, ids in (("missing", o.missing), ("extra", o.extra), ("different", o.different)):
            if ids:
                lines.append(f"  - {label}, first: {', '.join(ids[:3])}")
        lines += [f"  - {d}" for d in o.detail]
    lines += ["", "## Bottleneck", "", r.bottleneck]
    if r.sizing:
        z = r.sizing
        lines += [
            "",
            "## Sizing per 1,000 plants (derived from the one-process figures above)",
            "",
            f"{z.plants:,} plants x {r.parameters.get('meters per plant')} meters at one reading per"
            f" {r.parameters.get('interval s')} s = {z.readings_per_s:,.0f} readings/s; workers = ceil(2 x that /"
            " one process's measured readings/s) (headroom to drain a backlog while live data arrives);"
            " partitions = max(12, 2 x workers) so the HPA can double; memory per worker = its resident size"
            " before load + its measured growth per plant x the plants it serves.",
            "",
            "| per 1,000 plants | partitions | ingest processes | intensity processes | ingest MiB each |"
            " intensity MiB each |",
            "|---|---:|---:|---:|---:|---:|",
            f"| {z.readings_per_s:,.0f} readings/s | {z.partitions} | {z.ingest_workers} | {z.intensity_workers}"
            f" | {_n(z.ingest_memory_mib)} | {_n(z.intensity_memory_mib)} |",
        ]
    if r.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in r.notes]
    return "\n".join(lines) + "\n"
