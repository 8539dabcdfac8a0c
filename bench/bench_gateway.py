"""Gateway: requests/s and p99 latency of `GET /3/footprints?limit=100` (walking the Link pages) over a
registry of 100,000 EPD versions bulk-loaded with COPY into a fresh database, against the trivial
`GET /health` of the same running gateway (HTTPS, same client, same run).

Two list figures: the first walk after start (signed-record cache cold: every record is mapped and
signed once), and after one complete walk (cache warm, sized to the registry as in production)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
from harness import BenchContext, BenchRow

from epd_devstack.databases import create_migrated_database, drop_database

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support: the PCR the bench's series are bound to

from tests.support.pcrs import register_pcrs  # noqa: E402

SECRET = "bench-gateway-key-secret"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


async def load(dsn: str, n: int) -> None:
    """COPY n products, series, published versions and their A1-A3 results."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("""INSERT INTO organisations (organisation_id, name, company_ids)
                              VALUES ('org', 'Bench Rare Earth Co.', '{urn:pact:company:cn-uscc:91150200BENCH}');
                              INSERT INTO plants (plant_id, organisation_id, name, province, grid_region)
                              VALUES ('plant', 'org', 'Bench plant', 'CN-NM', 'North');""")
        await register_pcrs(conn, ("PCR-RE", "1.0"))
        await conn.execute(
            "INSERT INTO partners (partner_id, name, country, agreement) VALUES ('p', 'p', 'DE', $1::jsonb)",
            json.dumps(
                {
                    "partner_id": "p",
                    "product_classes": ["hs:2846"],
                    "pcrs": [{"pcr_id": "PCR-RE"}],
                    "standards": ["EN 15804+A2"],
                }
            ),
        )
        series = [uuid.uuid4() for _ in range(n)]
        pfs = [uuid.uuid4() for _ in range(n)]
        await conn.copy_records_to_table(
            "products",
            columns=["product_id", "name", "classifications", "organisation_id"],
            records=[(f"p{i}", f"Oxide {i}", ["hs:2846.90"], "org") for i in range(n)],
        )
        await conn.copy_records_to_table(
            "epd_series",
            columns=[
                "series_id",
                "product_id",
                "plant_id",
                "pcr_id",
                "pcr_version",
                "programme_operator",
                "registration_number",
            ],
            records=[(series[i], f"p{i}", "plant", "PCR-RE", "1.0", "NREP", f"R{i}") for i in range(n)],
        )
        await conn.copy_records_to_table(
            "epd_versions",
            columns=[
                "pf_id",
                "series_id",
                "version",
                "status",
                "declared_unit",
                "reference_period_start",
                "reference_period_end",
                "factor_set_version",
                "allocation_basis",
                "valid_from",
                "valid_until",
                "reason",
                "created_at",
            ],
            records=[
                (
                    pfs[i],
                    series[i],
                    1,
                    "published",
                    "1 kg",
                    T0 - timedelta(days=365),
                    T0,
                    "cn-2023.1",
                    "mass",
                    T0,
                    T0 + timedelta(days=1825),
                    "bench",
                    T0 + timedelta(seconds=i),
                )
                for i in range(n)
            ],
        )
        await conn.copy_records_to_table(
            "epd_results",
            columns=["pf_id", "module", "indicator", "value"],
            records=[
                r
                for i in range(n)
                for r in (
                    (pfs[i], "A1-A3", "GWP-total", Decimal("31.2")),
                    (pfs[i], "A1-A3", "GWP-fossil", Decimal("31.0")),
                )
            ],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def measure(
    http: httpx.AsyncClient, first: str, seconds: float, workers: int, follow: bool
) -> tuple[float, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        url = first
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            r = await http.get(url)
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:200]
            link = r.headers.get("link") if follow else None
            url = link[1 : link.index(">")] if link else first

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(0.99 * (len(latencies) - 1))] * 1000


async def run(ctx: BenchContext) -> list[BenchRow]:
    n, seconds = (5_000, 3.0) if ctx.quick else (100_000, 15.0)
    name = f"bench_gw_{ctx.run_id}"
    dsn = await create_migrated_database(ctx.pg_dsn, name)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    proc = None
    try:
        await load(dsn, n)
        from epd_common import crypto as secrets
        from epd_gateway.repository import Repository

        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        secret = secrets.new_client_secret()
        await Repository(pool, "").add_client("bench", "p", secrets.hash_secret(secret), ["footprint:list"])
        await pool.close()
        port = free_port()
        env = dict(
            os.environ,
            EPD_PG_DSN=dsn,
            EPD_GATEWAY_HTTPS_PORT=str(port),
            EPD_RECORDS_KEY_SECRET=SECRET,
            EPD_GATEWAY_TLS_DIR=str(tmp / "tls"),
            EPD_GATEWAY_PUBLIC_URL=f"https://127.0.0.1:{port}",
            EPD_GATEWAY_RATE_PER_SECOND="100000",
            EPD_GATEWAY_RATE_BURST="100000",
            EPD_LOG_LEVEL="WARNING",
            EPD_GATEWAY_RECORD_CACHE_SIZE=str(n),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "epd_gateway", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        verify = ssl.create_default_context(cafile=str(tmp / "tls" / "cert.pem"))
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=verify, timeout=60) as http:
            token = (
                await http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("bench", secret))
            ).json()["access_token"]
            http.headers["authorization"] = f"Bearer {token}"
            cold_rps, cold_p99 = await measure(http, "/3/footprints?limit=100", seconds, 4, True)
            url: str | None = "/3/footprints?limit=1000"  # complete one walk: every record signed and cached
            while url:
                r = await http.get(url)
                assert r.status_code == 200, r.text[:200]
                link = r.headers.get("link")
                url = link[1 : link.index(">")] if link else None
            list_rps, list_p99 = await measure(http, "/3/footprints?limit=100", seconds, 4, True)
            health_rps, health_p99 = await measure(http, "/health", seconds, 4, False)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
        await drop_database(ctx.pg_dsn, name)
    label = f"gateway GET /3/footprints?limit=100 over {n:,} records (HTTPS, walking Link pages)"
    return [
        BenchRow(label + ", first walk (cache cold)", "requests/s", cold_rps, "GET /health, same app", health_rps),
        BenchRow(
            label + ", first walk (cache cold)",
            "p99 latency ms",
            cold_p99,
            "GET /health, same app",
            health_p99,
            better="lower",
        ),
        BenchRow(label, "requests/s", list_rps, "GET /health, same app", health_rps),
        BenchRow(label, "p99 latency ms", list_p99, "GET /health, same app", health_p99, better="lower"),
    ]
