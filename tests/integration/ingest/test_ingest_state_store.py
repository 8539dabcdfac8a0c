"""The ingest state store on the real PostgreSQL: what a save writes is what a load gives back (dedupe
windows, counter points, batch ids, offsets) and the evidence rows hold each reading's hash; a save
repeated with rows already stored (an unclear commit, two writers during a rebalance) stores the
same rows again without failing; `epd audit prove` still finds a reading by its hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

from epd_common.db import create_pool
from epd_footprint.audit import find_reading
from epd_ingest.counters import CounterPoint
from epd_ingest.dedupe import Seen
from epd_ingest.pipeline import IngestConfig, IngestState
from epd_ingest.state_store import IngestStateStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
T0 = 1_772_000_000 * 1_000_000_000


def _accept(state: IngestState, plant: str, meter: str, ns: int) -> bytes:
    digest = hashlib.sha256(f"{plant}/{meter}/{ns}".encode()).digest()
    state.dedupe.record_reading(plant, meter, ns)
    state.changes.add_evidence(f"{plant}/roasting", plant, meter, ns, digest)
    return digest


def _poll(state: IngestState, start: int) -> list[bytes]:
    digests = [_accept(state, p, f"{p}.m{i % 3}", T0 + (start + i) * 10**9) for p in ("pa", "pb") for i in range(50)]
    state.changes.batches[f"batch-{start}"] = "pa"
    return digests


async def test_a_save_loads_back_and_a_repeated_save_stores_the_same_rows(fresh_db):
    pool = await create_pool(fresh_db, max_size=2)
    try:
        config = IngestConfig()
        store = IngestStateStore(pool, "ingest-g", config)
        state = IngestState.for_config(config)
        digests = _poll(state, 0)
        state.counters[("pa", "pa.m0")] = CounterPoint(Decimal("12.5"), NOW)
        first = store.snapshot(state, state.take_changes(), "raw", {0: 7, 2: 3}, NOW)
        await store.write(first)
        digests += _poll(state, 100)
        second = store.snapshot(state, state.take_changes(), "raw", {0: 9}, NOW)
        await store.write(second)
        await store.write(second)  # every reading row already stored: written again, idempotently

        loaded, offsets = await store.load("raw")
        assert offsets == {0: 9, 2: 3}
        assert loaded.counters[("pa", "pa.m0")] == CounterPoint(Decimal("12.5"), NOW)
        for plant, meter, ns in [r[1:4] for r in first.evidence.rows() + second.evidence.rows()]:
            assert loaded.dedupe.check_reading(plant, meter, ns) is Seen.DUPLICATE
        assert loaded.dedupe.check_reading("pa", "pa.m0", T0 + 10**12) is Seen.NEW
        assert loaded.dedupe.batch_seen("batch-0") and loaded.dedupe.batch_seen("batch-100")

        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT process_id, plant_id, meter_id, observed_ns, reading_hash FROM evidence_readings"
            )
            assert sorted(tuple(r) for r in rows) == sorted(first.evidence.rows() + second.evidence.rows())
            assert len(rows) == len(digests) == 200
            # The dedupe window's stamps: one row per save (the repeated save's row is one more), not per reading.
            assert await conn.fetchval("SELECT count(*) FROM ingest_seen_stamps") == 3
            assert await conn.fetchval("SELECT sum(cardinality(observed_ns)) FROM ingest_seen_stamps") == 300
            found = await find_reading(conn, digests[123].hex())  # the hash index serves the lookup
            assert bytes(found["reading_hash"]) == digests[123]
    finally:
        await pool.close()


async def test_a_prune_drops_the_saves_whose_stamps_are_all_below_their_meters_floors(fresh_db):
    pool = await create_pool(fresh_db, max_size=2)
    try:
        config = IngestConfig()
        store = IngestStateStore(pool, "ingest-g", config)
        state = IngestState.for_config(config)
        _poll(state, 0)
        await store.write(store.snapshot(state, state.take_changes(), "raw", {0: 1}, NOW))
        # pa.m0 moves on by more than the window: its old stamps fall below its floor; the others' do not.
        late = T0 + (config.max_lateness.days + 1) * 86_400 * 10**9
        _accept(state, "pa", "pa.m0", late)
        await store.write(store.snapshot(state, state.take_changes(), "raw", {0: 2}, NOW))
        async with pool.acquire() as conn:
            await store._prune(conn, NOW)
            assert await conn.fetchval("SELECT count(*) FROM ingest_seen_stamps") == 2  # pb's stamps keep save 1
            await conn.execute("UPDATE ingest_meter_state SET floor_ns = $1", late)  # every meter past save 1
            await store._prune(conn, NOW)
            assert await conn.fetchval("SELECT count(*) FROM ingest_seen_stamps") == 1
        loaded, _ = await store.load("raw")
        assert loaded.dedupe.check_reading("pa", "pa.m0", late) is Seen.DUPLICATE
        assert loaded.dedupe.check_reading("pa", "pa.m0", T0) is Seen.BEYOND_WINDOW
    finally:
        await pool.close()


async def test_a_save_without_readings_stores_its_batches_and_offsets_and_no_stamps_row(fresh_db):
    """A poll whose batches were all refused: the one statement of its save still stores the batch ids
    and the next offsets, and no empty stamps row."""
    pool = await create_pool(fresh_db, max_size=2)
    try:
        config = IngestConfig()
        store = IngestStateStore(pool, "ingest-g", config)
        state = IngestState.for_config(config)
        state.changes.batches["batch-refused"] = "pa"
        await store.write(store.snapshot(state, state.take_changes(), "raw", {1: 5}, NOW))
        loaded, offsets = await store.load("raw")
        assert offsets == {1: 5} and loaded.dedupe.batch_seen("batch-refused")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM ingest_seen_stamps") == 0
            assert await conn.fetchval("SELECT count(*) FROM evidence_readings") == 0
    finally:
        await pool.close()
