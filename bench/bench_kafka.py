"""Produce→consume throughput of epd.v1 telemetry batches: the project's Kafka helpers against bare
aiokafka with the same settings (idempotent, acks=all), on the same broker, in the same run.

Each side moves 60,000 batches (5,000 distinct ones sent 12 times: building the messages is not what
is measured), a few seconds a run, so broker warm-up and group join are a small part of it (5,000
batches, 0.26 s, measured mostly those). Three rounds, the two sides interleaved, best of each; the
topics are deleted afterwards (each run leaves ~1 GB otherwise)."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from google.protobuf.timestamp_pb2 import Timestamp
from harness import BenchContext, BenchRow

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.kafka import (
    CONSUMER_DEFAULTS,
    PRODUCER_DEFAULTS,
    KafkaConnection,
    TopicProducer,
    commit_processed,
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
)


def batches(n: int, readings: int = 100) -> list[telemetry_pb2.SignedTelemetryBatch]:
    out = []
    for i in range(n):
        batch = telemetry_pb2.TelemetryBatch(
            batch_id=f"b{i}", plant_id=f"plant-{i % 8}", sequence=i, created_at=Timestamp(seconds=1_700_000_000 + i)
        )
        for j in range(readings):
            batch.readings.add(
                meter_id=f"m{j}", value=f"{j}.25", unit="kWh", observed_at=Timestamp(seconds=1_700_000_000 + i * 60 + j)
            )
        out.append(
            telemetry_pb2.SignedTelemetryBatch(
                batch=batch.SerializeToString(), signature=b"s" * 64, key_id="k", plant_id=f"plant-{i % 8}"
            )
        )
    return out


async def project_helpers(kafka: KafkaConnection, topic: str, data: list, group: str) -> float:
    producer = make_producer(kafka)
    await producer.start()
    start = time.perf_counter()
    await TopicProducer(producer).send_all(topics.TELEMETRY_RAW, [(b.plant_id, b) for b in data], topic=topic)
    await producer.stop()
    consumer = make_consumer(kafka, group, topic)
    await consumer.start()
    seen = 0
    while seen < len(data):
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for r in records:
                topics.TELEMETRY_RAW.decode(r.value)
                seen += 1
        await commit_processed(consumer, batch)
    await consumer.stop()
    return len(data) / (time.perf_counter() - start)


async def bare_aiokafka(kafka: KafkaConnection, topic: str, data: list, group: str) -> float:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), **PRODUCER_DEFAULTS)
    await producer.start()
    start = time.perf_counter()
    futures = [await producer.send(topic, b.SerializeToString(), key=b.plant_id.encode()) for b in data]
    await asyncio.gather(*futures)
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, **kafka.client_kwargs(), group_id=group, **CONSUMER_DEFAULTS)
    await consumer.start()
    seen = 0
    while seen < len(data):
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for r in records:
                telemetry_pb2.SignedTelemetryBatch.FromString(r.value)
                seen += 1
        if batch:
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batch.items()})
    await consumer.stop()
    return len(data) / (time.perf_counter() - start)


async def run(ctx: BenchContext) -> list[BenchRow]:
    distinct, repeats = (500, 2) if ctx.quick else (5000, 12)
    data = batches(distinct) * repeats
    results: dict[str, list[float]] = {"helpers": [], "bare": []}
    created: list[str] = []
    try:
        for rnd in range(3):  # interleave the two so drift in machine load hits both alike
            for name, fn in (("helpers", project_helpers), ("bare", bare_aiokafka)):
                prefix = f"bench{ctx.run_id}r{rnd}{name}."
                await ensure_topics(ctx.kafka, [topics.TELEMETRY_RAW], replication=topics.SINGLE_BROKER, prefix=prefix)
                created.append(prefix + topics.TELEMETRY_RAW.name)
                results[name].append(await fn(ctx.kafka, created[-1], data, f"bench-{ctx.run_id}-{rnd}-{name}"))
    finally:
        admin = make_admin(ctx.kafka)
        await admin.start()
        try:
            await admin.delete_topics(created)
        finally:
            await admin.close()
    return [
        BenchRow(
            "kafka produce→consume (100-reading batches)",
            f"batches/s, best of 3 runs of {len(data):,} batches",
            max(results["helpers"]),
            "bare aiokafka, same settings, best of 3 interleaved runs",
            max(results["bare"]),
        )
    ]
