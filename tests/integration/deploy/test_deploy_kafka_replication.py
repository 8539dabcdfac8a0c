"""Production replication on a real three-broker cluster (conftest.py): the topics ensure_topics
creates with the production settings have 3 replicas and min.insync.replicas=2, and a broker killed
(SIGKILL) while producers write costs nothing: every acknowledged reading is there once."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from conftest import restart_missing_brokers

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.kafka import (
    KafkaConnection,
    TopicProducer,
    TopicsNotCreated,
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
)
from epd_common.settings import ServiceSettings

TOTAL = 6000
TOPIC_CONFIG = 1  # DescribeConfigs source: set on the topic itself (not a broker default)


def production() -> ServiceSettings:
    return ServiceSettings(environment="production")


async def describe(kafka: KafkaConnection, names: list[str]) -> dict[str, dict]:
    """Per topic: the replica count of each partition, its leaders, and min.insync.replicas (value, source).
    Waits until the metadata shows every partition with a leader (a topic just created may not yet)."""
    admin = make_admin(kafka)
    await admin.start()
    try:
        async with asyncio.timeout(60):
            while True:
                meta = {t["topic"]: t for t in await admin.describe_topics(names)}
                partitions = [p for n in names for p in (meta.get(n) or {}).get("partitions", [])]
                if set(meta) >= set(names) and partitions and all(p["leader"] >= 0 for p in partitions):
                    break
                await asyncio.sleep(0.2)
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    out = {n: {"replicas": {len(p["replicas"]) for p in meta[n]["partitions"]}} for n in names}
    for n in names:
        out[n]["leaders"] = {p["partition"]: p["leader"] for p in meta[n]["partitions"]}
    for response in configs:
        for resource in response.to_object()["resources"]:
            for entry in resource["config_entries"]:
                if entry["config_names"] == "min.insync.replicas":
                    out[resource["resource_name"]]["min_insync"] = (entry["config_value"], entry["config_source"])
    return out


async def test_production_topics_have_three_replicas_and_min_insync_two(three_brokers, topic_prefix):
    settings = production()
    await ensure_topics(
        three_brokers.connection(), topics.ALL_TOPICS, replication=settings.topic_replication, prefix=topic_prefix
    )
    names = [s.topic(topic_prefix) for s in topics.ALL_TOPICS]
    for name, facts in (await describe(three_brokers.connection(), names)).items():
        assert facts["replicas"] == {3}, name
        assert facts["min_insync"] == ("2", TOPIC_CONFIG), name


async def test_a_replication_the_cluster_cannot_hold_fails_loudly(three_brokers, topic_prefix):
    """Four replicas on three brokers: the broker refuses, and ensure_topics says so (it used to pass)."""
    settings = ServiceSettings(environment="production", kafka_replication_factor=4)
    with pytest.raises(TopicsNotCreated, match="replication factor 4"):
        await ensure_topics(
            three_brokers.connection(),
            [topics.TELEMETRY_RAW],
            replication=settings.topic_replication,
            prefix=topic_prefix,
        )


@pytest.mark.slow
async def test_a_broker_killed_under_load_loses_nothing(three_brokers, topic_prefix, unique):
    spec = topics.TELEMETRY_READINGS
    topic = spec.topic(topic_prefix)
    await ensure_topics(
        three_brokers.connection(), [spec], replication=production().topic_replication, prefix=topic_prefix
    )
    leaders = (await describe(three_brokers.connection(), [topic]))[topic]["leaders"]
    victim = next(n for n in three_brokers.nodes if n.node_id == leaders[0])  # leads partition 0 at least
    producer = make_producer(three_brokers.connection(), retry_backoff_ms=200)
    await producer.start()
    try:
        sender = TopicProducer(producer)
        futures = []
        for i in range(TOTAL):
            one = telemetry_pb2.Reading(reading_id=f"r{i}", plant_id=f"p{i % 11}", quantity=str(i))
            msg = telemetry_pb2.ReadingBatch(plant_id=one.plant_id, readings=[one])
            futures.append(await sender.send(spec, msg.plant_id, msg, topic=topic))
            if i % 200 == 199:
                await asyncio.sleep(0.02)  # a steady load across the kill
            if i == TOTAL // 3:
                await asyncio.gather(*futures[-200:])  # some of it acknowledged before the kill
                await asyncio.to_thread(three_brokers.stop_node, victim, True)  # SIGKILL
        async with asyncio.timeout(180):
            await asyncio.gather(*futures)  # every send acknowledged by the two brokers left
    finally:
        await producer.stop()

    consumer = make_consumer(three_brokers.connection(), f"g{unique}", topic)
    await consumer.start()
    seen: list[str] = []
    try:
        async with asyncio.timeout(180):
            while len(seen) < TOTAL:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    seen.extend(spec.decode(r.value).readings[0].reading_id for r in records)
        for records in (await consumer.getmany(timeout_ms=2000)).values():
            seen.extend(spec.decode(r.value).readings[0].reading_id for r in records)
    finally:
        await consumer.stop()
        await restart_missing_brokers(three_brokers)
    assert len(seen) == TOTAL, f"{len(seen) - len(set(seen))} duplicates"
    assert set(seen) == {f"r{i}" for i in range(TOTAL)}
