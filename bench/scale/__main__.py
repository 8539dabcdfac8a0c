"""`make bench-scale` / `python -m bench.scale`: the nationwide scale scenario (issue 18), its report
in bench/scale_results.md. Defaults are the issue's: 500 plants x 40 meters at one reading per 10 s
(2,000 readings/s), a day of backlog, ingest and intensity as 1 then 2 processes, one intensity
worker and one broker killed. `--quick` is a run of a few minutes (20 plants x 16 meters at 60x)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import pathlib
import platform
import shlex
import signal
import sys
import time

import psutil

from bench.harness import write_scale_report
from epd_devstack import stack

from . import analyse, maths, verify
from .report import Report, render
from .scenario import LATENESS_S, Params, new_system, run, start_system

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "scale_results.md"
RESULTS = HERE.parent / "results.md"
QUICK = {"plants": 20, "meters": 16, "speed": 60.0, "live_minutes": 3.0, "backlog_hours": 2.0, "oracle_plants": 20}


def parse(argv: list[str]) -> tuple[Params, pathlib.Path]:
    ap = argparse.ArgumentParser(prog="bench-scale", description=__doc__)
    ap.add_argument("--plants", type=int)
    ap.add_argument("--meters", type=int, help="meters per plant (rounded up to whole process stages)")
    ap.add_argument("--interval", type=int, default=10, help="simulated seconds between a meter's readings")
    ap.add_argument("--speed", type=float, help="simulated seconds per real second in the live phases")
    ap.add_argument("--minutes", type=float, help="real minutes of each live phase")
    ap.add_argument("--backlog-hours", type=float, help="simulated hours of backlog per worker count")
    ap.add_argument("--workers", default="1,2", help="ingest and intensity processes per stage, e.g. 1,2")
    ap.add_argument("--oracle-plants", type=int, help="plants checked against the oracle")
    ap.add_argument("--no-chaos", action="store_true")
    ap.add_argument("--drain-timeout", type=float, help="seconds to wait for a backlog to drain before restarting")
    ap.add_argument("--quick", action="store_true", help="a run of a few minutes: " + str(QUICK))
    ap.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    ap.add_argument("--run-dir", type=pathlib.Path, default=stack.RUN / "bench-scale")
    ap.add_argument("--keep", action="store_true", help="leave the cluster and services running")
    a = ap.parse_args(argv)
    p = Params(**(QUICK if a.quick else {}))
    for name, value in (
        ("plants", a.plants),
        ("meters", a.meters),
        ("speed", a.speed),
        ("live_minutes", a.minutes),
        ("backlog_hours", a.backlog_hours),
        ("oracle_plants", a.oracle_plants),
        ("drain_timeout_s", a.drain_timeout),
    ):
        if value is not None:
            setattr(p, name, value)
    p.interval_s = a.interval
    p.workers = tuple(int(w) for w in a.workers.split(","))
    p.chaos = not a.no_chaos
    p.run_dir = str(a.run_dir)
    return p, a.out


def main(argv: list[str]) -> int:
    p, out = parse(argv)
    os.environ.setdefault("EPD_ENVIRONMENT", "local")
    began = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - began:6.0f}s] {msg}", flush=True)

    # Ctrl-C and SIGTERM (a CI job's timeout, `kill`) end the run through `finally`, which stops the brokers
    # and services it started, also during start-up. SIGINT gets the same handler: asyncio.run's own (cancel
    # the main task) was swallowed by a phase, and the run went on.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupted)
    system = new_system(p)
    try:
        start_system(system, log)
        raw = asyncio.run(run(system, p, log))
        log("checking readings and windows against the oracle")
        conn = system.kafka.connection()
        check, comparison = None, None
        try:
            check, readings = asyncio.run(
                verify.check_readings(conn, system.prefix, raw["checked"], _sent(raw, raw["checked"]))
            )
            comparison = verify.compare_with_oracle(
                readings, system.processes_file.read_text(), LATENESS_S, [v for _, v in raw["outputs"].kept]
            )
        except Exception as exc:  # the figures measured so far still make a report; it says what failed
            log(f"the check failed: {exc!r}")
            raw["timeline"].notes.append(f"The reading and oracle check failed: {exc!r}")
        report = _report(p, system.prefix, raw, check, comparison, argv)
        text = render(report)
        out.write_text(text)
        log(f"report written to {out}")
        if out == DEFAULT_OUT:  # the home for every benchmark figure; a run elsewhere stays there
            write_scale_report(RESULTS, text)
            log(f"and below the benchmark table in {RESULTS}")
    finally:
        if "--keep" not in argv:
            system.stop()
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _sent(raw: dict, plants: set[str]) -> int:
    return sum(sum(raw["sendlog"].count.get(pl, [])) for pl in plants)


def _report(p: Params, prefix: str, raw: dict, check, comparison, argv: list[str]) -> Report:
    timeline, series, outputs, sendlog = raw["timeline"], raw["series"], raw["outputs"], raw["sendlog"]
    stages = [analyse.stage_figures(prefix, n, timeline, series, outputs, sendlog) for n in p.workers]
    to_version, to_partner = analyse.version_latencies(outputs, sendlog, raw["deliveries"], raw["load_started"])
    memory = analyse.memory_table(raw["memory"])
    plants = len(raw["plants"])
    meters = sum(x.meters for x in raw["plants"]) / plants
    one = stages[0]
    per_worker = {"ingest": one.backlog_ingest_rps / one.workers, "intensity": one.backlog_pipeline_rps / one.workers}
    base = {s: memory.get(f"{s}-1", (float("nan"),) * 2)[0] for s in ("ingest", "intensity")}
    growth = {s: maths.per_plant_memory(*memory.get(f"{s}-1", (0.0, 0.0)), plants) for s in ("ingest", "intensity")}
    sizing = maths.size_for(1000, meters, p.interval_s, per_worker, base, growth)
    memory_total = psutil.virtual_memory().total / 2**30
    machine = (
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {psutil.cpu_count()} cores"
        f" (shared with other work), {memory_total:.0f} GiB, Python {platform.python_version()}."
    )
    readings = (
        "not checked (see the notes)"
        if check is None
        else (
            f"{check.sent:,} sent by the {len(raw['checked'])} checked plants; {check.accepted:,} on the readings"
            " topic,"
            f" {check.rejected:,} rejected by ingest (the simulator's deliberately bad readings), {check.lost:,} lost,"
            f" {check.duplicated:,} written twice"
            + (
                f" ({check.rejections_repeated:,} rejections written again with their rejection id: dead letters"
                " are at-least-once, consumers dedupe by that id)"
                if check.rejections_repeated
                else ""
            )
        )
    )
    return Report(
        command="make bench-scale" + (f" SCALE_ARGS={shlex.quote(' '.join(argv))}" if argv else ""),
        parameters={
            "plants": plants,
            "meters per plant": f"{meters:.1f}",
            "interval s": p.interval_s,
            "offered readings/s at 1x": f"{plants * meters / p.interval_s:,.0f}",
            "live speed": f"{p.speed:g}x",
            "live minutes": p.live_minutes,
            "backlog hours": p.backlog_hours,
            "workers": "/".join(map(str, p.workers)),
            "partitions": 12,
            "replication": 3,
        },
        machine=machine,
        stages=stages,
        end_to_end={
            "reading→version": maths.Spread.of(to_version),
            "reading→partner delivery": maths.Spread.of(to_partner),
        },
        memory=memory,
        faults=analyse.faults(timeline, series, prefix),
        readings=readings,
        oracle=comparison,
        oracle_scope=f"{len(raw['checked'])} plants",
        sizing=sizing,
        notes=timeline.notes,
        bottleneck=analyse.bottleneck(stages, raw["memory"].cpu_by_name(), time.time() - raw["load_started"]),
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
