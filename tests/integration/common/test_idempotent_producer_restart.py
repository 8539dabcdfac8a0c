"""The idempotent producer keeps sending across a broker restart, and nothing is lost or doubled.

Runs against its own single-node cluster in a temporary folder so the shared broker is not disturbed.
"""

from __future__ import annotations

import asyncio

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.kafka import TopicProducer, ensure_topics, make_consumer, make_producer
from epd_devstack.kafka import KafkaCluster

TOTAL = 3000


async def test_producer_survives_broker_restart_without_loss_or_duplicates(tmp_path, stack, unique):
    cluster = KafkaCluster(tmp_path / "kafka", nodes=1, broker_port=19592)
    await asyncio.to_thread(cluster.start)
    try:
        await ensure_topics(cluster.connection(), [topics.TELEMETRY_READINGS], replication=topics.SINGLE_BROKER)
        producer = make_producer(cluster.connection(), retry_backoff_ms=200)
        await producer.start()
        sender = TopicProducer(producer)
        futures = []
        restarted = asyncio.Event()

        async def restart_midway():
            await asyncio.sleep(0.5)
            await asyncio.to_thread(cluster.stop)
            await asyncio.sleep(3)
            await asyncio.to_thread(cluster.start)
            restarted.set()

        restart = asyncio.create_task(restart_midway())
        for i in range(TOTAL):
            one = telemetry_pb2.Reading(reading_id=f"r{i}", plant_id=f"p{i % 7}", quantity=str(i))
            msg = telemetry_pb2.ReadingBatch(plant_id=one.plant_id, readings=[one])
            futures.append(await sender.send(topics.TELEMETRY_READINGS, msg.plant_id, msg))
            if i % 100 == 0:
                await asyncio.sleep(0.05)  # spread sends across the outage
        async with asyncio.timeout(120):
            await asyncio.gather(*futures)
            await restart
        assert restarted.is_set()
        await producer.stop()

        consumer = make_consumer(cluster.connection(), f"g{unique}", topics.TELEMETRY_READINGS.name)
        await consumer.start()
        seen: list[str] = []
        try:
            async with asyncio.timeout(60):
                while len(seen) < TOTAL:
                    for records in (await consumer.getmany(timeout_ms=1000)).values():
                        seen.extend(topics.TELEMETRY_READINGS.decode(r.value).readings[0].reading_id for r in records)
            extra = await consumer.getmany(timeout_ms=2000)
            seen.extend(
                topics.TELEMETRY_READINGS.decode(r.value).readings[0].reading_id for rs in extra.values() for r in rs
            )
        finally:
            await consumer.stop()
        assert len(seen) == TOTAL, f"{len(seen) - len(set(seen))} duplicates"
        assert set(seen) == {f"r{i}" for i in range(TOTAL)}
    finally:
        await asyncio.to_thread(cluster.stop)
