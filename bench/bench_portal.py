"""Portal: requests/s and p99 latency of the product page and of a search over a registry of 10,000
products (one published EPD each, bulk-loaded with COPY into a fresh database), against a static file
(`/static/portal.css`) served by the same running portal, same client, same run.

Pages are rendered on every request (no If-None-Match), through the read-only role as in production."""

from __future__ import annotations

import asyncio
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from harness import BenchContext, BenchRow

from epd_devstack.databases import create_migrated_database, drop_database

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support: the PCR rows every test seeds
from tests.support.pcrs import register_pcrs  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NAMES = ("Neodymium oxide", "Praseodymium oxide", "Dysprosium metal", "NdFeB magnet", "Cerium carbonate")


async def load(dsn: str, n: int) -> None:
    """n products of two companies, each with a series, a published version and its results."""
    conn = await asyncpg.connect(dsn)
    try:
        for org in ("org-a", "org-b"):
            await conn.execute(
                "INSERT INTO organisations (organisation_id, name, company_ids) VALUES ($1, $2, $3)",
                org,
                f"Bench Rare Earth {org}",
                [f"urn:epd:company:cn:{org}"],
            )
            await conn.execute(
                "INSERT INTO plants (plant_id, organisation_id, name, province, grid_region) "
                "VALUES ($1, $2, 'Bench plant', 'CN-NM', 'North')",
                f"plant-{org}",
                org,
            )
        # The series' PCRs exist first (epd_series references pcrs since PCRs became versioned rows).
        await register_pcrs(conn, *((f"PCR-{k}", "1.0") for k in range(5)))
        series = [uuid.uuid4() for _ in range(n)]
        pfs = [uuid.uuid4() for _ in range(n)]
        org = [("org-a", "org-b")[i % 2] for i in range(n)]
        await conn.copy_records_to_table(
            "products",
            columns=["product_id", "name", "classifications", "organisation_id"],
            records=[(f"p{i}", f"{NAMES[i % len(NAMES)]} {i}", [f"hs:2846.{i % 90:02d}"], org[i]) for i in range(n)],
        )
        await conn.copy_records_to_table(
            "epd_series",
            columns=["series_id", "product_id", "plant_id", "pcr_id", "pcr_version", "programme_operator",
                     "registration_number"],
            records=[(series[i], f"p{i}", f"plant-{org[i]}", f"PCR-{i % 5}", "1.0", "NREP", f"R{i}") for i in range(n)],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "epd_versions",
            columns=["pf_id", "series_id", "version", "status", "declared_unit", "reference_period_start",
                     "reference_period_end", "factor_set_version", "allocation_basis", "valid_from", "valid_until",
                     "reason", "created_at"],
            records=[
                (pfs[i], series[i], 1, "published", "kg", T0 - timedelta(days=365), T0, "set-1", "mass", T0,
                 T0 + timedelta(days=1825), "imported EPD", T0 + timedelta(seconds=i))
                for i in range(n)
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "epd_results",
            columns=["pf_id", "module", "indicator", "value"],
            records=[
                (pfs[i], module, "GWP-total", Decimal(10 + i % 97) * share)
                for i in range(n)
                for module, share in (("A1", Decimal("0.6")), ("A2", Decimal("0.1")), ("A3", Decimal("0.3")),
                                      ("A1-A3", Decimal(1)))
            ],
        )  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reader(dsn: str) -> str:
    """The same database as the read-only login the devstack makes (deploy/postgres/portal-roles.sql)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"epd_portal:epd_portal@{parts.hostname}:{parts.port}"))


async def measure(http: httpx.AsyncClient, url: Callable[[], str], seconds: float, workers: int) -> tuple[float, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            r = await http.get(url())
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:200]

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(0.99 * (len(latencies) - 1))] * 1000


async def run(ctx: BenchContext) -> list[BenchRow]:
    n, seconds = (1_000, 3.0) if ctx.quick else (10_000, 15.0)
    name = f"bench_portal_{ctx.run_id}"
    dsn = await create_migrated_database(ctx.pg_dsn, name)
    proc = None
    rng = random.Random(7)
    try:
        await load(dsn, n)
        port = free_port()
        env = dict(
            os.environ,
            EPD_PORTAL_PG_DSN=reader(dsn),
            EPD_PORTAL_HTTP_PORT=str(port),
            EPD_PORTAL_METRICS_PORT="0",
            EPD_RECORDS_KEY_SECRET="bench-portal-key-secret",
            EPD_LOG_LEVEL="WARNING",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "epd_portal", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            static_rps, static_p99 = await measure(http, lambda: "/static/portal.css", seconds, 4)
            product_rps, product_p99 = await measure(http, lambda: f"/products/p{rng.randrange(n)}", seconds, 4)
            search_rps, search_p99 = await measure(
                http, lambda: f"/?q={NAMES[rng.randrange(5)].split()[0]}+{rng.randrange(n)}", seconds, 4
            )
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
        await drop_database(ctx.pg_dsn, name)
    base = "GET /static/portal.css, same process"
    product = f"portal product page over {n:,} products (HTML with two SVG charts)"
    search = f"portal search over {n:,} products (text match, count, first page)"
    return [
        BenchRow(product, "requests/s", product_rps, base, static_rps),
        BenchRow(product, "p99 latency ms", product_p99, base, static_p99, better="lower"),
        BenchRow(search, "requests/s", search_rps, base, static_rps),
        BenchRow(search, "p99 latency ms", search_p99, base, static_p99, better="lower"),
    ]
