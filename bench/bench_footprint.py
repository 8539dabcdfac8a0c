"""Windows applied per second through the footprint service (fold, re-solve, drift rule, one transaction
per window) against a baseline of the same database writes without the engine, same database, same run.

Scenario: the Baotou chain of the integration tests (tests/integration/footprint/footprint_chain.py,
imported from there so the bench measures the tested setup), six published EPDs, rolling windows of
the roasting process that stay within the drift threshold (steady state: no versions written).

Each side applies 800 windows a run (seconds; 300 took ~1 s), best of 3 runs, the two sides
alternating; every run has windows of its own (new days), and every service window must come out
applied (a run that took another path would measure something else).
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys
import time
import uuid
from decimal import Decimal

from harness import BenchContext, BenchRow

from epd_common.db import create_pool, transaction
from epd_devstack.databases import create_migrated_database, drop_database
from epd_footprint import repository as repo
from epd_footprint.pg_store import pg_transactions
from epd_footprint.service import FootprintService
from epd_footprint.windows import read_window

REPO = pathlib.Path(__file__).resolve().parents[1]


def _chain():
    if str(REPO) not in sys.path:  # the chain imports tests.support (the PCR its EPDs are bound to)
        sys.path.insert(0, str(REPO))
    path = REPO / "tests/integration/footprint/footprint_chain.py"
    spec = importlib.util.spec_from_file_location("footprint_chain_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _baseline(pool, facts_list, series_ids) -> float:
    """The same per-window writes (lock, applied row, live inventory, drift states) without the engine."""
    start = time.perf_counter()
    for facts in facts_list:
        async with transaction(pool) as conn:
            await repo.window_seen(conn, facts.window_id, facts.revision)
            await repo.systems_for_process(conn, facts.process_id)
            await repo.lock_system(conn, "baotou-ndfeb")
            await repo.mark_window(conn, facts, "applied")
            await repo.live_bases(conn, "baotou-ndfeb")
            await conn.execute(
                """INSERT INTO footprint_live_inventories (system_id, engine_process_id, window_id, revision,
                       window_size, window_start, window_end, merkle_root, inventory)
                   VALUES ('baseline', 'p', $1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (system_id, engine_process_id) DO UPDATE SET window_id = excluded.window_id""",
                facts.window_id,
                facts.revision,
                facts.size,
                facts.start,
                facts.end,
                facts.merkle_root,
                json.dumps({"inputs": {}, "emissions": {}}),
            )
            await repo.drift_states(conn, series_ids)
            for sid in series_ids:
                await conn.execute("UPDATE footprint_drift_state SET last_live = 1 WHERE series_id = $1", sid)
    return len(facts_list) / (time.perf_counter() - start)


async def run(ctx: BenchContext) -> list[BenchRow]:
    chain = _chain()
    n = 30 if ctx.quick else 800
    name = f"bench_fp_{uuid.uuid4().hex[:8]}"
    db = await create_migrated_database(ctx.pg_dsn, name)
    try:
        pool = await create_pool(db, max_size=4)
        await chain.register(pool)
        service = FootprintService(pg_transactions(pool))
        await service.apply_message(chain.roasting_window(-1, Decimal("1.02")))  # warm-up: builds the live system
        series_ids = [r["series_id"] for r in await pool.fetch("SELECT series_id FROM epd_series")]
        runs = {"service": 0, "baseline": 0}

        async def service_run() -> float:
            first = runs["service"] * n
            runs["service"] += 1
            windows = [
                chain.roasting_window(day, Decimal("1.02") if day % 2 else Decimal("1.03"))
                for day in range(first, first + n)
            ]
            start = time.perf_counter()
            outcomes = [await service.apply_message(w) for w in windows]
            rate = n / (time.perf_counter() - start)
            labels = {o.label for o in outcomes}
            if labels != {"applied"}:
                raise RuntimeError(f"service windows not all applied: {sorted(labels)}")
            return rate

        async def baseline_run() -> float:
            first = 10_000 + runs["baseline"] * n
            runs["baseline"] += 1
            base_windows = [read_window(chain.roasting_window(day, Decimal(1))) for day in range(first, first + n)]
            return await _baseline(pool, base_windows, series_ids)

        service_rates, base_rates = [], []
        for _ in range(3):  # alternate the sides so drift in machine load hits both alike
            service_rates.append(await service_run())
            base_rates.append(await baseline_run())
        service_rate, base_rate = max(service_rates), max(base_rates)
        await pool.close()
    finally:
        await drop_database(ctx.pg_dsn, name)
    return [
        BenchRow(
            "footprint windows",
            f"windows applied/s, best of 3 runs of {n} windows (6 EPDs, re-solve + drift rule)",
            service_rate,
            "same DB writes per window, no engine, best of 3 alternating runs",
            base_rate,
        )
    ]
