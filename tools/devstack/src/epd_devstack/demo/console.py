"""A live console for `make run`: pipeline counters from the services' /metrics and the database."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Group
from rich.live import Live
from rich.table import Table

from .system import PORTS, DemoSystem

# (label, service, metric sample name) summed over labels
COUNTERS = [
    ("readings accepted", "ingest", "epd_ingest_readings_accepted_total"),
    ("readings rejected", "ingest", "epd_ingest_readings_rejected_total"),
    ("windows emitted", "intensity", "epd_intensity_windows_emitted_total"),
    ("windows applied", "footprint", "epd_footprint_windows_total"),
    ("versions created", "footprint", "epd_footprint_versions_created_total"),
    ("events published", "publisher", "epd_publisher_events_published_total"),
]


def scrape(port: int) -> dict[str, float]:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


async def database_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM epd_versions GROUP BY status")
        out = {f"versions {r['status']}": r["n"] for r in rows}
        out["drift events"] = await conn.fetchval("SELECT count(*) FROM footprint_drift_events")
        out["deliveries delivered"] = await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
        return out
    finally:
        await conn.close()


def render(
    system: DemoSystem,
    samples: dict[str, dict[str, float]],
    rates: dict[str, float],
    db: dict[str, int],
    down: list[str],
) -> Group:
    pipeline = Table("pipeline", "total", "per second", title="EPD platform — simulated Baotou chain")
    for label, service, metric in COUNTERS:
        pipeline.add_row(label, f"{samples.get(service, {}).get(metric, 0):,.0f}", f"{rates.get(label, 0):,.1f}")
    state = Table("footprints and partners", "count")
    for key in sorted(db):
        state.add_row(key, str(db[key]))
    links = Table("where", "url")
    for name, url in system.urls.items():
        links.add_row(name, url)
    status = f"[red]not answering: {', '.join(down)}[/red]" if down else "[green]all services answering[/green]"
    sims = "simulators finished" if system.simulators_done() else "simulators running"
    return Group(
        pipeline,
        state,
        links,
        f"{status}; {sims}; Ctrl-C (or make stop) stops everything",
        f"operator commands on this run: set -a; . {system.env_file}; set +a; .venv/bin/epd status",
    )


def run_console(system: DemoSystem, interval: float = 2.0) -> None:
    previous: dict[str, float] = {}
    last = time.monotonic()
    with Live(refresh_per_second=1, screen=False) as live:
        while True:
            samples = {name.removeprefix("connector-"): scrape(port) for name, port in PORTS.items()}
            now = time.monotonic()
            rates = {}
            for label, service, metric in COUNTERS:
                value = samples.get(service, {}).get(metric, 0.0)
                rates[label] = max(0.0, (value - previous.get(label, value)) / max(now - last, 1e-6))
                previous[label] = value
            last = now
            try:
                db = asyncio.run(database_counts(system.dsn))
            except (OSError, asyncpg.PostgresError) as exc:
                db = {f"database unavailable: {type(exc).__name__}": 0}
            live.update(render(system, samples, rates, db, system.all_up()))
            time.sleep(interval)
