"""Gateway: requests/s and p99 latency of `GET /3/footprints?limit=100` (walking the Link pages) over a
registry of 100,000 EPD versions bulk-loaded with COPY into a fresh database, served by two gateway
processes (requests alternate between them, a cursor issued by one continues on the other), against
the trivial `GET /health` of the same two processes (HTTPS, same clients, same run).

Seeding includes the stored rendering: every record is rendered and signed once and stored
(`Catalogue.materialise`, what `epd gateway materialise` runs), as the gateway would on first read.
Two list figures: the first walk after the processes start (cold), and after one complete walk
(warm: PostgreSQL's buffers hold the walk; the gateways keep no records of their own).

The load generator shares the machine's cores with the gateways and PostgreSQL, so it does what a
partner's puller must and no more: per response it reads the body and the Link header (aiohttp, whose
HTTP parser is C). httpx cost ~4 ms of client CPU per 290 KB page against ~1.8 ms per `/health`
answer on this machine, CPU the page rows took from the servers and the `/health` rows did not."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import asyncpg
from harness import BenchContext, BenchRow

from epd_devstack.databases import create_migrated_database, drop_database

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support: the PCR the bench's series are bound to

from tests.support.gateway_process import KEY_SECRET, start, stop  # noqa: E402
from tests.support.pcrs import register_pcrs  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=UTC)


BULK_TABLES = ("products", "epd_series", "epd_versions")


async def load(dsn: str, n: int) -> None:
    """COPY n products, series, published versions and their A1-A3 results.

    The bench's own database: its bulk rows are not audit-logged (one hash-chained audit row per
    inserted row, appended in series, made the load take 20 minutes)."""
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
        for table in BULK_TABLES:
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_audit_log")
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
        for table in BULK_TABLES:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_audit_log")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def materialise(dsn: str) -> tuple[int, float]:
    """Render, sign and store every record once (the signing key the gateways will find); (count, seconds)."""
    from epd_gateway.catalogue import Catalogue
    from epd_gateway.keystore import ensure_key, load_key_ring
    from epd_gateway.repository import Repository
    from epd_records.party import ProgrammeInfo
    from epd_records.status import PUBLIC

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        await ensure_key(pool, KEY_SECRET)
        ring = await load_key_ring(pool, KEY_SECRET)
        started = time.perf_counter()
        count = await Catalogue(Repository(pool, ""), ProgrammeInfo("National Rare-Earth EPD Programme")).materialise(
            PUBLIC, ring
        )
        return count, time.perf_counter() - started
    finally:
        await pool.close()


class _Capture:
    """Stands in for the pool to capture the statement Repository.page would run."""

    def __init__(self) -> None:
        self.sql, self.args = "", ()

    async def fetch(self, sql: str, *args: object) -> list[object]:
        self.sql, self.args = sql, args
        return []


async def explain_page(dsn: str) -> list[str]:
    """EXPLAIN ANALYZE of one list page (100 rows, from the middle of the registry) as the gateway plans it."""
    from epd_gateway.cursor import Position
    from epd_gateway.keystore import load_key_ring
    from epd_gateway.query import Filters
    from epd_gateway.repository import Repository
    from epd_records.recognition import RecognitionAgreement
    from epd_records.status import PUBLIC

    conn = await asyncpg.connect(dsn, server_settings={"plan_cache_mode": "force_generic_plan"})
    try:
        agreement = RecognitionAgreement.model_validate_json(
            await conn.fetchval("SELECT agreement::text FROM partners WHERE partner_id = 'p'")
        )
        middle = await conn.fetchrow(
            "SELECT created_at, pf_id FROM epd_versions ORDER BY created_at OFFSET 50000 LIMIT 1"
        )
        capture = _Capture()
        repo = Repository(capture, "")  # type: ignore[arg-type]
        kid = (await load_key_ring(conn, KEY_SECRET)).kid  # type: ignore[arg-type]
        after = Position(middle["created_at"], str(middle["pf_id"])) if middle else None
        await repo.page(Filters(), agreement, after, 101, PUBLIC, kid)
        return [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + capture.sql, *capture.args)]
    finally:
        await conn.close()


def next_path(link: str) -> str:
    """The path and query of a `Link: <url>; rel="next"` (any gateway continues a cursor)."""
    target = link[1 : link.index(">")]
    return target[target.index("/", target.index("//") + 2) :]


class Gateway:
    """One gateway process as the bench's clients reach it: its base URL, TLS context and a session."""

    def __init__(self, port: int, cert: Path) -> None:
        self.base = f"https://127.0.0.1:{port}"
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=str(cert)), limit=0),
            timeout=aiohttp.ClientTimeout(total=60),
        )
        self.headers: dict[str, str] = {}

    async def get(self, path: str) -> tuple[int, bytes, str | None]:
        """(status, body, Link header) of a GET."""
        async with self.session.get(self.base + path, headers=self.headers) as r:
            return r.status, await r.read(), r.headers.get("link")

    async def close(self) -> None:
        await self.session.close()


async def measure(
    clients: list[Gateway], first: str, seconds: float, workers: int, follow: bool
) -> tuple[float, float]:
    """Requests/s and p99 ms of `workers` loops, each request going to the next gateway in turn."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        url, turn = first, i
        while time.perf_counter() < deadline:
            http = clients[turn % len(clients)]
            turn += 1
            t = time.perf_counter()
            status, body, link = await http.get(url)
            latencies.append(time.perf_counter() - t)
            assert status == 200, body[:200]
            url = next_path(link) if follow and link else first

    start_t = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    elapsed = time.perf_counter() - start_t
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(0.99 * (len(latencies) - 1))] * 1000


async def walk(http: Gateway) -> int:
    """One complete walk of the listing in pages of 1,000; returns the records seen."""
    url: str | None = "/3/footprints?limit=1000"
    seen = 0
    while url:
        status, body, link = await http.get(url)
        assert status == 200, body[:200]
        seen += len(json.loads(body)["data"])
        url = next_path(link) if link else None
    return seen


async def access_token(gateway: Gateway, client_id: str, secret: str) -> str:
    async with gateway.session.post(
        gateway.base + "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=aiohttp.BasicAuth(client_id, secret),
    ) as r:
        assert r.status == 200, await r.text()
        token: str = (await r.json())["access_token"]
        return token


async def run(ctx: BenchContext) -> list[BenchRow]:
    n, seconds = (5_000, 3.0) if ctx.quick else (100_000, 15.0)
    name = f"bench_gw_{ctx.run_id}"
    dsn = await create_migrated_database(ctx.pg_dsn, name)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    procs = []
    try:
        started = time.perf_counter()
        await load(dsn, n)
        loaded = time.perf_counter() - started
        rendered, render_s = await materialise(dsn)
        assert rendered == n, rendered
        from epd_common import crypto as secrets
        from epd_gateway.repository import Repository

        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        secret = secrets.new_client_secret()
        await Repository(pool, "").add_client("bench", "p", secrets.hash_secret(secret), ["footprint:list"])
        await pool.close()
        # Replicas behind one name: tokens name the same issuer, whichever process issued them.
        limits = {
            "EPD_GATEWAY_RATE_PER_SECOND": "100000",
            "EPD_GATEWAY_RATE_BURST": "100000",
            "EPD_LOG_LEVEL": "WARNING",
            "EPD_GATEWAY_PUBLIC_URL": "https://gateway.bench.invalid",
            "EPD_GATEWAY_KEY_REFRESH_SECONDS": "10",  # the default (the test helper reloads the key per request)
        }
        for i in range(2):
            (tmp / str(i)).mkdir()
            procs.append(await asyncio.to_thread(start, dsn, tmp / str(i), **limits))
        clients = [Gateway(port, tmp / str(i) / "tls" / "cert.pem") for i, (_, _, port) in enumerate(procs)]
        try:
            token = await access_token(clients[0], "bench", secret)
            for http in clients:
                http.headers["authorization"] = f"Bearer {token}"
                status, body, _ = await http.get("/3/footprints?limit=1")
                assert status == 200, (http.base, body[:200], token)
            cold_rps, cold_p99 = await measure(clients, "/3/footprints?limit=100", seconds, 4, True)
            assert await walk(clients[1]) == n
            list_rps, list_p99 = await measure(clients, "/3/footprints?limit=100", seconds, 4, True)
            health_rps, health_p99 = await measure(clients, "/health", seconds, 4, False)
            plan = await explain_page(dsn)
        finally:
            for http in clients:
                await http.close()
    finally:
        for proc, _, _ in procs:
            await asyncio.to_thread(stop, proc)
        await drop_database(ctx.pg_dsn, name)
        shutil.rmtree(tmp, ignore_errors=True)
    print("   a list page, as PostgreSQL runs it:\n" + "\n".join(f"     {line}" for line in plan))
    print(f"   seeded {n:,} versions in {loaded:.1f} s, rendered and stored {rendered:,} records in {render_s:.1f} s")
    label = f"gateway GET /3/footprints?limit=100 over {n:,} records, 2 processes (HTTPS, walking Link pages)"
    health = "GET /health, same 2 processes"
    cold, warm = label + ", first walk after start (cold)", label + ", after one full walk (warm)"
    return [
        BenchRow(cold, "requests/s", cold_rps, health, health_rps),
        BenchRow(
            label + ", first walk after start (cold)", "p99 latency ms", cold_p99, health, health_p99, better="lower"
        ),
        BenchRow(warm, "requests/s", list_rps, health, health_rps),
        BenchRow(
            label + ", after one full walk (warm)", "p99 latency ms", list_p99, health, health_p99, better="lower"
        ),
        BenchRow(
            f"gateway seeding: render, sign and store {n:,} records",
            "records/s",
            rendered / render_s,
            "COPY of the same versions",
            n / loaded,
        ),
    ]
