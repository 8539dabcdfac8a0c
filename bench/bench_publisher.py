"""Publisher: relay throughput (versions/s acked with acks=all on the change feed + records topic) against
bare aiokafka producing the same payloads, and commit → subscriber-callback latency (p50/p99) against a
bare produce → consume of one message, all on the same broker in the same run. Uses a throwaway
database with every migration applied.

Throughput: an outbox of 2,000 committed versions relayed 15 times in one run (30,000 versions, a
second or more; one pass took 0.1 s): before each pass, outside the timing, the published marks
and relay positions are reset and the outbox vacuumed, so every pass relays the same backlog of
2,000. (A single backlog of 30,000 now relays at the same rate: the relay reads each product's last
published sequence once per batch, no longer once per row.) Three runs to topics of their own,
interleaved with the bare producer's runs of the same 30,000 sends; best of each."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from harness import BenchContext, BenchRow

from epd_common import topics
from epd_common.kafka import (
    PRODUCER_DEFAULTS,
    KafkaConnection,
    TopicProducer,
    ensure_topics,
    make_consumer,
    make_producer,
)
from epd_devstack.databases import create_migrated_database, drop_database
from epd_publisher.outbox import OutboxRow, PgOutbox
from epd_publisher.relay import Relay, RelayConfig, headers_for
from epd_publisher.subscriber import MemorySequenceStore, Subscriber

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # publisher_helpers imports tests.support
sys.path.insert(0, str(REPO / "tests" / "integration" / "publisher"))
from publisher_helpers import add_product, commit_version, seed_registry  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def relay_throughput(pool, kafka: KafkaConnection, prefix: str, passes: int) -> tuple[float, list[OutboxRow]]:
    producer = make_producer(kafka)
    await producer.start()
    relay = Relay(PgOutbox(pool), TopicProducer(producer), RelayConfig(prefix))
    elapsed = 0.0
    for _ in range(passes):
        await pool.execute("UPDATE outbox SET published_at = NULL")  # the same backlog again
        await pool.execute("DELETE FROM relay_positions")
        await pool.execute("VACUUM outbox")
        start = time.perf_counter()
        while await relay.run_batch():
            pass
        elapsed += time.perf_counter() - start
    await producer.stop()
    rows = [
        OutboxRow(
            r["outbox_id"],
            str(r["event_id"]),
            r["product_id"],
            r["product_sequence"],
            r["version"],
            bytes(r["payload"]),
            r["created_at"],
        )
        for r in await pool.fetch("SELECT * FROM outbox ORDER BY outbox_id")
    ]
    return len(rows) * passes / elapsed, rows


async def bare_throughput(rows: list[OutboxRow], kafka: KafkaConnection, prefix: str, passes: int) -> float:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), **PRODUCER_DEFAULTS)
    await producer.start()
    start = time.perf_counter()
    futures = []
    for row in rows * passes:
        changed = topics.FOOTPRINT_CHANGES.decode(row.payload)
        key = row.product_id.encode()
        futures.append(
            await producer.send(topics.FOOTPRINT_CHANGES.topic(prefix), row.payload, key=key, headers=headers_for(row))
        )
        futures.append(
            await producer.send(
                topics.FOOTPRINT_RECORDS.topic(prefix),
                changed.footprint.SerializeToString(),
                key=key,
                headers=headers_for(row),
            )
        )
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await producer.stop()
    return len(rows) * passes / elapsed


async def e2e_latency(pool, kafka: KafkaConnection, prefix: str, group: str, n: int) -> list[float]:
    producer = make_producer(kafka)
    await producer.start()
    consumer = make_consumer(kafka, group, topics.FOOTPRINT_CHANGES.topic(prefix), auto_offset_reset="latest")
    await consumer.start()
    arrived: asyncio.Queue = asyncio.Queue()

    async def on_change(event, _ctx) -> None:
        arrived.put_nowait((event.product_id, event.version, time.perf_counter()))

    stop = asyncio.Event()
    relay = Relay(PgOutbox(pool), TopicProducer(producer), RelayConfig(prefix, poll_interval_s=0.01))
    tasks = [
        asyncio.create_task(relay.run(stop)),
        asyncio.create_task(Subscriber(consumer, MemorySequenceStore(), on_change, name="bench").run(stop, 50)),
    ]
    await asyncio.sleep(2.0)  # group join
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        await commit_version(pool, "latency-0")
        _, _, t1 = await asyncio.wait_for(arrived.get(), 30)
        latencies.append(t1 - t0)
    stop.set()
    await asyncio.gather(*tasks)
    await consumer.stop()
    await producer.stop()
    return latencies


async def bare_latency(kafka: KafkaConnection, topic: str, group: str, n: int) -> list[float]:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), **PRODUCER_DEFAULTS)
    await producer.start()
    consumer = make_consumer(kafka, group, topic, auto_offset_reset="latest")
    await consumer.start()
    await asyncio.sleep(2.0)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await (await producer.send(topic, b"x" * 600, key=b"latency"))
        while True:
            batch = await consumer.getmany(timeout_ms=50)
            if batch:
                break
        out.append(time.perf_counter() - t0)
    await consumer.stop()
    await producer.stop()
    return out


async def run(ctx: BenchContext) -> list[BenchRow]:
    versions, passes, samples = (300, 1, 20) if ctx.quick else (2000, 15, 200)
    name = f"bench_pub_{ctx.run_id}"
    dsn = await create_migrated_database(ctx.pg_dsn, name)
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=8)
    prefix = f"bench{ctx.run_id}pub."
    try:
        await seed_registry(pool)
        for p in range(100):
            await add_product(pool, f"magnet-{p:03d}")
        await add_product(pool, "latency-0")

        async def commits(product: str) -> None:  # a product's versions in order, products side by side
            for _ in range(versions // 100):
                await commit_version(pool, product)

        await asyncio.gather(*(commits(f"magnet-{p:03d}") for p in range(100)))
        relay_rates, bare_rates = [], []
        for rnd in range(3):
            for pre in (f"{prefix}r{rnd}.", f"{prefix}r{rnd}bare."):
                await ensure_topics(
                    ctx.kafka,
                    [topics.FOOTPRINT_CHANGES, topics.FOOTPRINT_RECORDS],
                    replication=topics.SINGLE_BROKER,
                    prefix=pre,
                )
            relay_rate, rows = await relay_throughput(pool, ctx.kafka, f"{prefix}r{rnd}.", passes)
            relay_rates.append(relay_rate)
            bare_rates.append(await bare_throughput(rows, ctx.kafka, f"{prefix}r{rnd}bare.", passes))
        await ensure_topics(
            ctx.kafka,
            [topics.FOOTPRINT_CHANGES, topics.FOOTPRINT_RECORDS],
            replication=topics.SINGLE_BROKER,
            prefix=prefix,
        )
        lat = await e2e_latency(pool, ctx.kafka, prefix, f"bench-{ctx.run_id}-e2e", samples)
        await ensure_topics(
            ctx.kafka, [topics.FOOTPRINT_CHANGES], replication=topics.SINGLE_BROKER, prefix=prefix + "lat."
        )
        base = await bare_latency(
            ctx.kafka, topics.FOOTPRINT_CHANGES.topic(prefix + "lat."), f"bench-{ctx.run_id}-bare", samples
        )
    finally:
        await pool.close()
        await drop_database(ctx.pg_dsn, name)
    return [
        BenchRow(
            "publisher relay (outbox → changes + records, acks=all)",
            f"versions/s, best of 3 runs of {passes} x {len(rows):,} versions (backlog {len(rows):,})",
            max(relay_rates),
            "bare aiokafka produce of the same payloads, best of 3 interleaved runs",
            max(bare_rates),
        ),
        BenchRow(
            "publisher commit → subscriber callback",
            "p50 ms",
            statistics.median(lat) * 1000,
            "bare produce → consume, one message",
            statistics.median(base) * 1000,
            better="lower",
        ),
        BenchRow(
            "publisher commit → subscriber callback",
            "p99 ms",
            pct(lat, 0.99) * 1000,
            "bare produce → consume, one message",
            pct(base, 0.99) * 1000,
            better="lower",
        ),
    ]
