"""Windows on real Kafka -> footprint service -> provisional versions with outbox rows (fresh database).

- roasting electricity +20 % for 4 rolling windows: exactly one provisional version for the roasted
  ore (the drift, after N=3 evaluations) and cascaded ones for the downstream chloride, oxide, metal
  and magnet; La/Ce oxides have a product policy of 50 % and get none. Each version has an outbox row
  'created' carrying the full FootprintVersion, with evidence of the three windows of the streak.
- +5 % produces nothing; replaying the same windows changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC
from decimal import Decimal

import asyncpg
import pytest
from aiokafka import TopicPartition
from footprint_chain import PRODUCTS, leaching_window, register, roasting_window

from epd.v1 import footprint_pb2
from epd_common.db import create_pool
from epd_common.kafka import KafkaConnection, TopicProducer, ensure_topics, make_admin, make_consumer, make_producer
from epd_common.topics import INTENSITY_WINDOWS, SINGLE_BROKER
from epd_footprint import admin
from epd_footprint import schemas as s
from epd_footprint.consumer import run_consumer
from epd_footprint.pg_store import pg_transactions
from epd_footprint.service import FootprintService

CASCADED = {"re-chloride", "ndpr-oxide", "ndpr-metal", "ndfeb-magnet"}


@contextlib.asynccontextmanager
async def running_worker(dsn: str, kafka: KafkaConnection, topic: str, group: str):
    pool = await create_pool(dsn, max_size=4)
    service = FootprintService(pg_transactions(pool))
    consumer = make_consumer(kafka, group, topic)
    await consumer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(run_consumer(service, consumer, stop))
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await consumer.stop()
        await pool.close()


async def produce(kafka: KafkaConnection, topic: str, windows) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        await TopicProducer(producer).send_all(INTENSITY_WINDOWS, [(w.process_id, w) for w in windows], topic=topic)
    finally:
        await producer.stop()


async def wait_applied(conn: asyncpg.Connection, count: int) -> None:
    async with asyncio.timeout(60):
        while await conn.fetchval("SELECT count(*) FROM footprint_applied_windows") < count:  # noqa: ASYNC110 - a table
            await asyncio.sleep(0.2)


async def wait_caught_up(kafka: KafkaConnection, topic: str, *groups: str) -> None:
    """Until each group has committed every record now on `topic`: its workers have applied them all
    (run_consumer commits a batch after applying it). Then "nothing changed" means something."""
    probe = make_consumer(kafka, None)
    admin = make_admin(kafka)
    await probe.start()
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        parts = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        assert parts, described
        end = await probe.end_offsets(parts)
        async with asyncio.timeout(60):
            for group in groups:
                while True:
                    committed = await admin.list_consumer_group_offsets(group)
                    if all(tp in committed and committed[tp].offset >= end[tp] for tp in parts if end[tp]):
                        break
                    await asyncio.sleep(0.2)
    finally:
        await admin.close()
        await probe.stop()


async def snapshot(conn: asyncpg.Connection) -> dict:
    return {
        "versions": await conn.fetch("SELECT pf_id, status FROM epd_versions ORDER BY pf_id"),
        "outbox": await conn.fetch("SELECT event_id FROM outbox ORDER BY outbox_id"),
        "events": await conn.fetchval("SELECT count(*) FROM footprint_drift_events"),
        "state": await conn.fetch(
            "SELECT series_id, consecutive, flagged FROM footprint_drift_state ORDER BY series_id"
        ),
    }


@pytest.fixture
async def chain(fresh_db, kafka, topic_prefix):
    pool = await create_pool(fresh_db, max_size=4)
    await register(pool)
    await admin.set_policy(pool, s.PolicyIn(scope="product", scope_id="lace-oxides", threshold="0.5"))
    await pool.close()
    await ensure_topics(kafka, [INTENSITY_WINDOWS], replication=SINGLE_BROKER, prefix=topic_prefix)
    conn = await asyncpg.connect(fresh_db)
    yield conn, INTENSITY_WINDOWS.topic(topic_prefix)
    await conn.close()


async def test_sustained_20_percent_roasting_electricity_cascades_once(chain, fresh_db, kafka, unique):
    conn, topic = chain
    windows = [roasting_window(day, Decimal("1.2")) for day in range(4)]
    async with running_worker(fresh_db, kafka, topic, f"g{unique}"):
        await produce(kafka, topic, windows)
        await wait_applied(conn, 4)
        rows = await conn.fetch(
            """SELECT s.product_id, v.pf_id, v.version, v.status, v.reason, v.preceding_pf_id
               FROM epd_versions v JOIN epd_series s USING (series_id) WHERE v.status = 'provisional'"""
        )
        by_product = {r["product_id"]: r for r in rows}
        assert set(by_product) == {"roasted-ore"} | CASCADED
        assert len(rows) == len(by_product)  # exactly one per series
        assert by_product["roasted-ore"]["reason"].startswith("drift: A1-A3 GWP-total +19.")
        for p in CASCADED:
            assert by_product[p]["reason"].startswith("cascade from roasted-ore"), by_product[p]["reason"]
            assert by_product[p]["version"] == 2 and by_product[p]["preceding_pf_id"] is not None
        # One outbox row 'created' per provisional version, carrying the full version and its evidence.
        for r in rows:
            out = await conn.fetch(
                "SELECT payload, product_sequence FROM outbox WHERE pf_id = $1 AND change_type = 'created'", r["pf_id"]
            )
            assert len(out) == 1 and out[0]["product_sequence"] == 2  # 1 was the import's 'published'
            event = footprint_pb2.FootprintChanged.FromString(out[0]["payload"])
            assert event.footprint.status == footprint_pb2.FOOTPRINT_STATUS_PROVISIONAL
            assert event.footprint.pf_id == f"urn:uuid:{r['pf_id']}"
            assert [e.window_id for e in event.footprint.evidence] == sorted(w.window_id for w in windows[:3])
            assert len(event.footprint.results) == 16
        events = await conn.fetch("SELECT product_id, cause, direction, percent FROM footprint_drift_events")
        assert {(e["product_id"], e["cause"]) for e in events} == {("roasted-ore", "drift")} | {
            (p, "cascade") for p in CASCADED
        }
        assert all(e["direction"] == "deterioration" and e["percent"] > 10 for e in events)
        before = await snapshot(conn)
    # Replay the same windows twice, through a new consumer group: nothing changes.
    async with running_worker(fresh_db, kafka, topic, f"g{unique}-replay"):
        await produce(kafka, topic, windows)
        await wait_caught_up(kafka, topic, f"g{unique}-replay")
    assert await snapshot(conn) == before
    assert await conn.fetchval("SELECT count(*) FROM footprint_applied_windows") == 4


async def test_five_percent_drift_creates_nothing(chain, fresh_db, kafka, unique):
    conn, topic = chain
    async with running_worker(fresh_db, kafka, topic, f"g{unique}"):
        await produce(kafka, topic, [roasting_window(day, Decimal("1.05")) for day in range(5)])
        await wait_applied(conn, 5)
    assert await conn.fetchval("SELECT count(*) FROM epd_versions WHERE status = 'provisional'") == 0
    assert await conn.fetchval("SELECT count(*) FROM footprint_drift_events") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox") == len(PRODUCTS)  # the imports only
    assert await conn.fetchval("SELECT max(consecutive) FROM footprint_drift_state") == 0


async def test_two_workers_never_create_two_versions_of_one_series(chain, fresh_db, kafka, unique):
    conn, topic = chain
    windows = [roasting_window(day, Decimal("1.2")) for day in range(6)]
    # Different groups: both workers see every window. Same group: split partitions, rebalances.
    async with (
        running_worker(fresh_db, kafka, topic, f"a{unique}"),
        running_worker(fresh_db, kafka, topic, f"b{unique}"),
        running_worker(fresh_db, kafka, topic, f"a{unique}"),
    ):
        await produce(kafka, topic, windows)
        await wait_applied(conn, 6)
        await wait_caught_up(kafka, topic, f"a{unique}", f"b{unique}")
    per_series = await conn.fetch(
        "SELECT series_id, count(*) AS n FROM epd_versions WHERE status = 'provisional' GROUP BY series_id"
    )
    assert len(per_series) == 1 + len(CASCADED) and all(r["n"] == 1 for r in per_series)
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE change_type = 'created'") == 1 + len(CASCADED)
    assert await conn.fetchval("SELECT count(*) FROM footprint_drift_events") == 1 + len(CASCADED)


async def test_unique_index_stops_a_second_open_version(chain, fresh_db):
    """Without the service's locks: two concurrent transactions insert a provisional version of one series."""
    from epd_footprint.domain.lifecycle import Status
    from epd_footprint.versions import AlreadyOpen, NewVersion, create_version

    conn, _ = chain
    series_id = await conn.fetchval("SELECT series_id FROM epd_series WHERE product_id = 'roasted-ore'")
    pool = await create_pool(fresh_db, max_size=4)
    gate = asyncio.Barrier(2)

    async def attempt(tag: str):
        async with pool.acquire() as c, c.transaction():
            await gate.wait()
            try:
                return await create_version(
                    c,
                    NewVersion(
                        series_id=series_id,
                        status=Status.PROVISIONAL,
                        results={"A1-A3": {"GWP-total": Decimal(1)}},
                        reason=f"test {tag}",
                        period_start=_dt(1),
                        period_end=_dt(2),
                        factor_set_version="x",
                    ),
                    "created",
                )
            except AlreadyOpen:
                return None

    try:
        results = await asyncio.gather(attempt("a"), attempt("b"))
    finally:
        await pool.close()
    assert sum(r is not None for r in results) == 1
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM epd_versions WHERE series_id = $1 AND status = 'provisional'", series_id
        )
        == 1
    )


def _dt(day: int):
    from datetime import datetime

    return datetime(2025, 1, day, tzinfo=UTC)


async def test_bad_records_become_rejected_rows_and_do_not_stop_the_worker(chain, fresh_db, kafka, unique):
    conn, topic = chain
    producer = make_producer(kafka)
    await producer.start()
    bad = roasting_window(0, Decimal("1.2"))
    bad.activities[0].quantity = "1e400"
    nul = roasting_window(1, Decimal("1.2"))
    nul.window_id = "w\x00id"
    try:
        await producer.send_and_wait(topic, b"\xff\x00garbage", key=b"baotou-1/roasting")
        for w in (bad, nul):
            await producer.send_and_wait(topic, INTENSITY_WINDOWS.encode(w), key=b"baotou-1/roasting")
        await producer.send_and_wait(
            topic, INTENSITY_WINDOWS.encode(roasting_window(2, Decimal("1.2"))), key=b"baotou-1/roasting"
        )
    finally:
        await producer.stop()
    async with running_worker(fresh_db, kafka, topic, f"g{unique}"):
        await wait_applied(conn, 1)
        async with asyncio.timeout(30):
            while await conn.fetchval("SELECT count(*) FROM footprint_rejected_windows") < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    reasons = sorted(r["reason"] for r in await conn.fetch("SELECT reason FROM footprint_rejected_windows"))
    assert reasons == ["invalid_number", "malformed", "malformed"]
    assert uuid.UUID(str(await conn.fetchval("SELECT series_id FROM footprint_drift_state LIMIT 1")))


async def test_many_windows_of_one_period_count_as_one_evaluation(chain, fresh_db, kafka, unique):
    """N consecutive evaluations are N successive periods: four revisions of one window (or windows of
    several upstream processes for one period) advance the streak once."""
    conn, topic = chain
    same_period = [roasting_window(0, Decimal("1.2"), revision=r) for r in range(4)]
    async with running_worker(fresh_db, kafka, topic, f"g{unique}"):
        await produce(kafka, topic, same_period)
        await wait_applied(conn, 4)
        assert await conn.fetchval("SELECT count(*) FROM epd_versions WHERE status = 'provisional'") == 0
        assert await conn.fetchval("SELECT max(consecutive) FROM footprint_drift_state") == 1
        # Two more periods complete the streak of three.
        await produce(kafka, topic, [roasting_window(day, Decimal("1.2")) for day in (1, 2)])
        await wait_applied(conn, 6)
        provisional = await conn.fetch(
            "SELECT s.product_id FROM epd_versions v JOIN epd_series s USING (series_id) WHERE v.status = 'provisional'"
        )
    assert {r["product_id"] for r in provisional} == {"roasted-ore"} | CASCADED


async def test_a_cascade_reaches_series_already_evaluated_for_the_period(fresh_db, kafka, topic_prefix, unique):
    """Leaching's window for day 2 arrives before roasting's days 1 and 2 (processes emit their rolling
    windows at their own pace): the downstream series hold day 2 in their streaks, so roasting's day-2
    window evaluates only the roasted ore, which fires and cascades to them. The service must create
    the cascaded versions from their stored state (it used to stop on a KeyError)."""
    pool = await create_pool(fresh_db, max_size=4)
    await register(pool, telemetry=("baotou-1/acid-roasting", "baotou-1/leaching"))
    await admin.set_policy(pool, s.PolicyIn(scope="product", scope_id="lace-oxides", threshold="0.5"))
    await pool.close()
    await ensure_topics(kafka, [INTENSITY_WINDOWS], replication=SINGLE_BROKER, prefix=topic_prefix)
    topic = INTENSITY_WINDOWS.topic(topic_prefix)
    conn = await asyncpg.connect(fresh_db)
    try:
        async with running_worker(fresh_db, kafka, topic, f"g{unique}"):
            applied = 0
            for batch in (
                [roasting_window(0, Decimal("1.2"))],
                [leaching_window(2)],
                [roasting_window(1, Decimal("1.2")), roasting_window(2, Decimal("1.2"))],
            ):
                await produce(kafka, topic, batch)  # one after the other: two keys, two partitions
                applied += len(batch)
                await wait_applied(conn, applied)
            rows = await conn.fetch(
                """SELECT s.product_id, v.reason FROM epd_versions v JOIN epd_series s USING (series_id)
                   WHERE v.status = 'provisional'"""
            )
        by_product = {r["product_id"]: r["reason"] for r in rows}
        assert by_product["roasted-ore"].startswith("drift: A1-A3 GWP-total +19.")
        assert set(by_product) == {"roasted-ore"} | CASCADED
        assert all(by_product[p].startswith("cascade from roasted-ore") for p in CASCADED), by_product
    finally:
        await conn.close()
