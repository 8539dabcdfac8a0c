"""The scale scenario, step by step: system up, plants registered, then for each worker count a paced
(live) phase and a backlog replayed as fast as it goes, faults injected in the last live phase, the
backlog drained, and everything measured (observe.py) and checked (verify.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import yaml

from epd_common.topics import FOOTPRINT_RECORDS, INTENSITY_WINDOWS, TELEMETRY_RAW
from epd_connector.registration import put_site, site_request
from epd_connector.signing import load_private_key
from epd_connector.simulator.drift import parse_drift
from epd_connector.simulator.ratios import load_ratios
from epd_devstack.demo.seed import PLANTS as DEMO_PLANTS
from epd_devstack.procs import port_open, wait_until

from . import observe
from .drain import check_ingest_idle, last_lag, restart_wedged, wait_drained
from .load import Phase, Plants, SendLog, run_phase
from .plants import Feed, SimPlant, demo_plant, synthetic_plant
from .system import Options, ScaleSystem

LATENESS_S = 600


@dataclasses.dataclass
class Params:
    plants: int = 500
    meters: int = 40
    interval_s: int = 10
    speed: float = 1.0  # simulated seconds per real second in the live phases
    live_minutes: float = 5.0
    backlog_hours: float = 24.0
    workers: tuple[int, ...] = (1, 2)
    chaos: bool = True
    restart_after_s: float = 15.0
    oracle_plants: int = 50  # plants whose readings and windows are checked against the oracle
    drain_timeout_s: float = 180.0  # no progress this long: wedged workers are restarted (the report says so)
    run_dir: str = ""


@dataclasses.dataclass
class Timeline:
    phases: list[tuple[int, Phase, float, float]] = dataclasses.field(default_factory=list)  # workers, phase, wall
    drained: dict[int, float | None] = dataclasses.field(default_factory=dict)  # workers -> wall time or None
    faults: list[tuple[str, float, float]] = dataclasses.field(default_factory=list)  # what, at, phase end
    notes: list[str] = dataclasses.field(default_factory=list)


def register(system: ScaleSystem, plants: list[SimPlant]) -> None:
    headers = {"Authorization": f"Bearer {system.admin_token}"}
    with httpx.Client(base_url=system.env["EPD_FOOTPRINT_ADMIN_URL"], headers=headers, timeout=60) as client:

        def one(p: SimPlant) -> None:
            res = put_site(client, p.plant_id, site_request(p.plant_config(), p.key.public_key()))
            if res.status_code >= 300:
                raise RuntimeError(f"register {p.plant_id}: {res.status_code} {res.text[:300]}")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, plants))


def build_plants(system: ScaleSystem, p: Params) -> list[SimPlant]:
    ratios = load_ratios()
    synthetic = [synthetic_plant(i + 1, p.meters, p.interval_s, ratios) for i in range(p.plants)]
    demo = [
        demo_plant(name, load_private_key((system.run_dir / "keys" / f"{name}.pem").read_bytes()), p.interval_s)
        for name in DEMO_PLANTS
    ]
    processes = [proc for plant in demo + synthetic for proc in plant.processes]
    system.processes_file.write_text(yaml.safe_dump({"processes": processes}, sort_keys=False))
    register(system, synthetic)
    return demo + synthetic


async def chaos(system: ScaleSystem, live_s: float, restart_after_s: float, timeline: Timeline, t0: float) -> None:
    """Kill one intensity worker at 15 % of the live phase and one broker at 60 %, each restarted
    `restart_after_s` later (as their orchestrator would)."""
    await asyncio.sleep(live_s * 0.15)
    victim = system.workers["intensity"][-1]
    timeline.faults.append((f"SIGKILL intensity worker {victim}", time.time(), t0 + live_s))
    await asyncio.to_thread(system.kill, victim)
    await asyncio.sleep(restart_after_s)
    await asyncio.to_thread(system.restart, victim)
    await asyncio.sleep(max(0.0, t0 + live_s * 0.6 - time.time()))
    node = system.kafka.nodes[1]
    timeline.faults.append((f"SIGKILL Kafka broker {node.node_id}", time.time(), t0 + live_s))
    await asyncio.to_thread(system.kafka.stop_node, node, True)
    await asyncio.sleep(restart_after_s)
    await asyncio.to_thread(system.kafka.start_node, node)
    await asyncio.to_thread(
        wait_until,
        lambda: port_open("127.0.0.1", node.broker_port),
        timeout=180,
        proc=None,
        what=f"kafka node {node.node_id}",
        log_file=node.log_file,
    )


async def run(system: ScaleSystem, p: Params, log) -> dict:
    """Everything after the system is provisioned and seeded; returns the raw measurements."""
    plants = build_plants(system, p)
    log(f"{len(plants)} plants registered ({sum(x.meters for x in plants):,} meters)")
    step = dt.timedelta(seconds=p.interval_s)
    live = dt.timedelta(seconds=p.live_minutes * 60 * p.speed)
    backlog = dt.timedelta(hours=p.backlog_hours)
    span = (live + backlog) * len(p.workers)
    # Hourly windows close on whole hours: the first one falls half-way into the first live phase (a run
    # shorter than an hour of simulated time would otherwise close none), and the run ends before now.
    offset = min(live, span) / 2
    latest = dt.datetime.now(dt.UTC) - span - dt.timedelta(minutes=15)
    t0 = (latest + offset).replace(minute=0, second=0, microsecond=0) - offset
    drift = (parse_drift("roasting.electricity=+20%@1h"),)
    feeds = [
        Feed(pl, t0, t0 + span, step, seed=i + 1, drifts=drift if pl.plant_id == "baotou-smelter" else ())
        for i, pl in enumerate(plants)
    ]
    queue = Plants(feeds, step)
    prefix = system.prefix
    conn = system.kafka.connection()
    series, outputs, memory = observe.LagSeries(), observe.Outputs(), observe.Memory()
    checked = {pl.plant_id for pl in plants[: len(DEMO_PLANTS) + p.oracle_plants]}
    stop_obs, stop_out = asyncio.Event(), asyncio.Event()
    pids = lambda: {**system.pids(), "driver (plants)": os.getpid()}  # noqa: E731
    tasks = [
        asyncio.create_task(observe.sample_lag(conn, prefix, series, stop_obs)),
        asyncio.create_task(observe.sample_memory(pids, memory, stop_obs, frozenset({"driver (plants)"}))),
        asyncio.create_task(
            observe.follow_outputs(
                conn, INTENSITY_WINDOWS.topic(prefix), FOOTPRINT_RECORDS.topic(prefix), checked, outputs, stop_out
            )
        ),
    ]
    from epd_common.kafka import make_producer

    producer = make_producer(system.kafka.connection("epd-connector"), linger_ms=20, max_batch_size=262144)
    await producer.start()
    sendlog, timeline = SendLog(), Timeline()
    load_started = time.time()
    cursor = t0
    try:
        for n in p.workers:
            while len(system.workers["ingest"]) < n:
                log(f"starting {await asyncio.to_thread(system.add_ingest)}")
            while len(system.workers["intensity"]) < n:
                log(f"starting {await asyncio.to_thread(system.add_intensity)}")
            if n == p.workers[0]:
                memory.mark()
            live_phase = Phase(f"live x{n}", cursor, cursor + live, p.speed)
            log(f"{live_phase.name}: {p.live_minutes:g} min at {p.speed:g}x")
            fault_task = None
            if p.chaos and n == p.workers[-1]:
                fault_task = asyncio.create_task(
                    chaos(system, p.live_minutes * 60, p.restart_after_s, timeline, time.time())
                )
            a, b = await run_phase(live_phase, queue, producer, TELEMETRY_RAW.topic(prefix), sendlog)
            if fault_task is not None:
                await fault_task
            timeline.phases.append((n, live_phase, a, b))
            backlog_phase = Phase(f"backlog x{n}", cursor + live, cursor + live + backlog, None)
            log(f"{backlog_phase.name}: {p.backlog_hours:g} h as fast as it goes")
            a, b = await run_phase(backlog_phase, queue, producer, TELEMETRY_RAW.topic(prefix), sendlog)
            timeline.phases.append((n, backlog_phase, a, b))
            log(f"  sent in {b - a:.0f} s; waiting for ingest and intensity to drain")
            drained = await wait_drained(series, prefix, p.drain_timeout_s)
            if drained is None:
                drained = await restart_wedged(system, series, prefix, n, p.drain_timeout_s, timeline, log)
            elif raw_left := last_lag(series, TELEMETRY_RAW.topic(prefix)):
                drained = await check_ingest_idle(system, series, prefix, n, raw_left, drained, p, timeline, log)
            timeline.drained[n] = drained
            log(f"  drained after {drained - a:.0f} s" if drained else "  NOT drained before the timeout")
            cursor += live + backlog
            if dead := system.dead():
                log(f"  exited: {dead}")
        await asyncio.sleep(10)  # the footprint service and publisher finish the last windows
    finally:
        await producer.stop()
        stop_obs.set()
        stop_out.set()
        for task, result in zip(tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True):
            if isinstance(result, BaseException):
                log(f"observer {task.get_coro().__name__} failed: {result!r}")
                timeline.notes.append(f"The observer {task.get_coro().__name__} failed: {result!r}")
    deliveries = []
    log_file = system.run_dir / "partner-deliveries.jsonl"
    if log_file.exists():
        deliveries = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    return {
        "plants": plants,
        "checked": checked,
        "series": series,
        "outputs": outputs,
        "memory": memory,
        "sendlog": sendlog,
        "timeline": timeline,
        "deliveries": deliveries,
        "load_started": load_started,
    }


def new_system(p: Params) -> ScaleSystem:
    """The system, not started yet (so a run stopped during start-up still stops what did start)."""
    system = ScaleSystem(Options(run_dir=__import__("pathlib").Path(p.run_dir)))
    system.run_dir.mkdir(parents=True, exist_ok=True)
    return system


def start_system(system: ScaleSystem, log) -> None:
    log(f"three-broker cluster in {system.kafka.base} (ports {system.kafka.bootstrap})")
    system.start_cluster()
    log(f"database {system.opts.database}, topics ({system.opts.partitions} partitions, replication 3), grants")
    system.provision()
    system.start_front()
    log("seeding the demo plants, products, EPDs and the partner")
    system.seed()
    system.start_publisher()
