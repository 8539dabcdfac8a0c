"""Chaos: 2,000 versions of 200 products committed while two relay processes (``python -m epd_publisher``)
are SIGKILLed at 10 random moments and restarted. Every (product, version) reaches the change feed in
per-product order, and a subscriber-library consumer applies each exactly once, in version order."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from publisher_helpers import SECRET_KEY, add_product, commit_version, seed_registry

from epd_common import topics
from epd_common.kafka import KafkaConnection, ensure_topics, make_consumer
from epd_publisher.subscriber import PgSequenceStore, Subscriber

PRODUCTS, VERSIONS, KILLS = 200, 10, 10


def start_relay(env: dict, log_path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "epd_publisher"], env=env, stdout=subprocess.DEVNULL, stderr=open(log_path, "ab")
    )


async def read_feed(kafka: KafkaConnection, topic: str) -> list:
    consumer = AIOKafkaConsumer(**kafka.client_kwargs(), enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or range(3)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def test_relay_survives_sigkills_without_loss_duplicates_or_reordering(
    fresh_db, kafka, topic_prefix, unique, tmp_path
):
    await ensure_topics(
        kafka,
        [topics.FOOTPRINT_CHANGES, topics.FOOTPRINT_RECORDS],
        replication=topics.SINGLE_BROKER,
        prefix=topic_prefix,
    )
    pool = await asyncpg.create_pool(fresh_db, min_size=2, max_size=12)
    await seed_registry(pool)
    products = [f"magnet-{i:03d}" for i in range(PRODUCTS)]
    for p in products:
        await add_product(pool, p)

    seen: dict[str, list[tuple[int, int]]] = defaultdict(list)

    async def record(event, conn) -> None:
        seen[event.product_id].append((event.product_sequence, event.version))

    consumer = make_consumer(kafka, f"chaos-{unique}", topics.FOOTPRINT_CHANGES.topic(topic_prefix))
    await consumer.start()
    stop = asyncio.Event()
    subscriber = Subscriber(consumer, PgSequenceStore(pool, f"chaos-{unique}"), record, name="chaos")
    sub_task = asyncio.create_task(subscriber.run(stop))

    env = dict(
        os.environ,
        EPD_PG_DSN=fresh_db,
        EPD_KAFKA_BOOTSTRAP=kafka.bootstrap,
        EPD_TOPIC_PREFIX=topic_prefix,
        EPD_PUBLISHER_DELIVERY_ENABLED="false",
        EPD_PUBLISHER_METRICS_PORT="0",
        EPD_LOG_LEVEL="WARNING",
        EPD_PUBLISHER_POLL_INTERVAL_S="0.05",
        EPD_PUBLISHER_RELAY_MAX_ROWS="300",
        EPD_PUBLISHER_SECRET_KEY=SECRET_KEY,
    )
    relays = [start_relay(env, tmp_path / f"relay{i}.log") for i in range(2)]
    rng = random.Random(int(unique, 16))
    jobs: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(VERSIONS):
        for p in rng.sample(products, len(products)):
            jobs.put_nowait(p)

    async def writer() -> None:
        while not jobs.empty():
            product = jobs.get_nowait()
            await commit_version(pool, product)
            await asyncio.sleep(rng.random() * 0.02)

    async def killer() -> int:
        kills = 0
        for _ in range(KILLS):
            await asyncio.sleep(0.3 + rng.random() * 1.2)
            i = rng.randrange(len(relays))
            relays[i].send_signal(signal.SIGKILL)
            relays[i].wait()
            kills += 1
            relays[i] = start_relay(env, tmp_path / f"relay{i}.log")
        return kills

    try:
        results = await asyncio.gather(killer(), *(writer() for _ in range(6)))
        assert results[0] == KILLS
        for _ in range(600):
            if sum(len(v) for v in seen.values()) >= PRODUCTS * VERSIONS:
                break
            assert all(r.poll() is None for r in relays), "a relay exited on its own"
            await asyncio.sleep(0.2)
        unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert unpublished == 0
    finally:
        for r in relays:
            r.send_signal(signal.SIGTERM)
        for r in relays:
            try:
                r.wait(timeout=20)
            except subprocess.TimeoutExpired:
                r.kill()
                r.wait()
        stop.set()
        await sub_task
        await consumer.stop()
        await pool.close()

    # The subscriber applied every version exactly once, in order, per product.
    assert sorted(seen) == sorted(products)
    for p in products:
        assert seen[p] == [(n, n) for n in range(1, VERSIONS + 1)], p

    # The raw feed holds every (product, version); the first appearance of each follows the product's order
    # (a relay killed between the acks and its commit re-sends a suffix, which subscribers skip).
    feed = await read_feed(kafka, topics.FOOTPRINT_CHANGES.topic(topic_prefix))
    first: dict[str, list[int]] = defaultdict(list)
    for rec in feed:
        ev = topics.FOOTPRINT_CHANGES.decode(rec.value)
        assert rec.key.decode() == ev.product_id
        headers = dict(rec.headers)
        assert headers["event-id"].decode() == ev.event_id and int(headers["version"]) == ev.version
        if ev.version not in first[ev.product_id]:
            first[ev.product_id].append(ev.version)
    for p in products:
        assert first[p] == list(range(1, VERSIONS + 1)), p
    # The compacted records topic received the footprints too.
    records = await read_feed(kafka, topics.FOOTPRINT_RECORDS.topic(topic_prefix))
    latest = {}
    for rec in records:
        fv = topics.FOOTPRINT_RECORDS.decode(rec.value)
        latest[fv.product_id] = max(latest.get(fv.product_id, 0), fv.version)
    assert latest == {p: VERSIONS for p in products}
