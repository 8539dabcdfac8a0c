"""`epd status`: is every service answering, and where does the pipeline stand (metrics and database)."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from epd_common.settings import ServiceSettings

SERVICES = {  # service -> (metrics port variable, the counter that shows it working)
    "connector": ("EPD_CONNECTOR_METRICS_PORT", "epd_connector_batches_sent_total"),
    "ingest": ("EPD_INGEST_METRICS_PORT", "epd_ingest_readings_accepted_total"),
    "intensity": ("EPD_INTENSITY_METRICS_PORT", "epd_intensity_windows_emitted_total"),
    "footprint": ("EPD_FOOTPRINT_METRICS_PORT", "epd_footprint_windows_total"),
    "publisher": ("EPD_PUBLISHER_METRICS_PORT", "epd_publisher_events_published_total"),
    "gateway": ("EPD_GATEWAY_METRICS_PORT", "epd_gateway_http_requests_total"),
}
DEFAULT_PORTS = {
    "EPD_CONNECTOR_METRICS_PORT": 9101,
    "EPD_INGEST_METRICS_PORT": 9106,
    "EPD_INTENSITY_METRICS_PORT": 9102,
    "EPD_FOOTPRINT_METRICS_PORT": 9103,
    "EPD_PUBLISHER_METRICS_PORT": 9104,
    "EPD_GATEWAY_METRICS_PORT": 9105,
}


def metric_total(port: int, name: str) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    return sum(s.value for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == name)


async def database_state(dsn: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = [
            (f"EPD versions {r['status']}", str(r["n"]))
            for r in await conn.fetch("SELECT status, count(*) AS n FROM epd_versions GROUP BY status ORDER BY status")
        ]
        age = await conn.fetchval(
            "SELECT extract(epoch FROM now() - min(created_at)) FROM outbox WHERE published_at IS NULL"
        )
        rows.append(("outbox unpublished, oldest", f"{age:.0f} s" if age is not None else "none"))
        for r in await conn.fetch("SELECT state, count(*) AS n FROM deliveries GROUP BY state ORDER BY state"):
            rows.append((f"partner deliveries {r['state']}", str(r["n"])))
        rows.append(("drift events", str(await conn.fetchval("SELECT count(*) FROM footprint_drift_events"))))
        return rows
    finally:
        await conn.close()


def status() -> None:
    """Services (their /metrics) and the state of footprints, outbox and deliveries."""
    console = Console()
    services = Table("service", "metrics", "working counter")
    for name, (var, counter) in SERVICES.items():
        port = int(os.environ.get(var, DEFAULT_PORTS[var]))
        value = metric_total(port, counter)
        services.add_row(
            name,
            f"127.0.0.1:{port}" + ("" if value is not None else " [red](down)[/red]"),
            f"{counter} = {value:,.0f}" if value is not None else "-",
        )
    console.print(services)
    settings = ServiceSettings()
    try:
        state = asyncio.run(database_state(settings.pg_dsn))
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        console.print(f"[red]database {settings.pg_dsn.rsplit('@', 1)[-1]} unavailable: {exc}[/red]")
        raise SystemExit(1) from exc
    table = Table("pipeline state", "value")
    for key, shown in state:
        table.add_row(key, shown)
    console.print(table)
