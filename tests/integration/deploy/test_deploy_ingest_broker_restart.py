"""Ingest on the three-broker cluster (conftest.py), topics replicated as in production: a broker killed
(SIGKILL) while signed batches arrive, and started again 10 s later, costs nothing. Ingest goes on
consuming through the kill and after the restart, and every reading sent is on the readings topic.

A full-size scale run (bench/scale_results.md) once saw ingest poll nothing for minutes after a broker
came back; this is that scenario at a size a test can afford."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiokafka.partitioner import DefaultPartitioner
from conftest import restart_missing_brokers
from test_deploy_kafka_replication import describe, production

from epd_common import topics
from epd_common.kafka import ensure_topics, make_producer
from epd_connector.signing import load_private_key
from epd_ingest.sender import PipelinedSender
from tests.integration.admin_api import running_admin_api
from tests.integration.connector.telemetry_support import (
    TELEMETRY,
    electricity_reading,
    plant_yaml,
    read_topic,
    register_at,
    running_ingest,
    signed,
)

PLANTS = 4
BATCHES_PER_S = 4  # per plant


async def test_ingest_goes_on_after_a_broker_is_killed_and_restarted(three_brokers, fresh_db, tmp_path, unique):
    kafka = three_brokers.connection()
    prefix = f"t{unique}."
    await ensure_topics(kafka, TELEMETRY, replication=production().topic_replication, prefix=prefix)
    raw = topics.TELEMETRY_RAW.topic(prefix)
    plants = [f"br{unique[:6]}{i}" for i in range(PLANTS)]
    keys = {}
    async with running_admin_api(fresh_db) as url:
        for pid in plants:
            key_file = await register_at(url, plant_yaml(tmp_path, pid, unique), tmp_path)
            keys[pid] = load_private_key(key_file.read_bytes())
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    sent: set[tuple[str, int]] = set()
    minute = 0

    async def send_for(seconds: float, producer: PipelinedSender) -> None:
        nonlocal minute
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            at = base + timedelta(minutes=minute)
            minute += 1
            for pid in plants:
                batch = signed(pid, keys[pid], f"{pid}-k1", [electricity_reading(pid, at, value="1.5")])
                await producer.send(raw, pid.encode(), batch)  # retried while the partition has no leader
                sent.add((f"{pid}.electricity", int(at.timestamp())))
            await asyncio.sleep(1 / BATCHES_PER_S)

    leaders = (await describe(kafka, [raw]))[raw]["leaders"]
    partitions = sorted(leaders)
    first_plants = DefaultPartitioner()(plants[0].encode(), partitions, partitions)  # where its batches go
    victim = next(n for n in three_brokers.nodes if n.node_id == leaders[first_plants])
    producer = make_producer(kafka, retry_backoff_ms=200)
    await producer.start()
    try:
        async with running_ingest(kafka, fresh_db, prefix, f"ingest-{unique}"):
            sender = PipelinedSender(producer)  # keyed like the connector's sends
            await sender.begin([raw])
            await send_for(4, sender)
            await asyncio.to_thread(three_brokers.stop_node, victim, True)  # SIGKILL
            await send_for(10, sender)
            await restart_missing_brokers(three_brokers)
            await send_for(6, sender)
            await sender.flush()  # every batch acknowledged

            def arrived(readings) -> bool:
                return {(r.meter_id, r.observed_at.seconds) for r in readings} >= sent

            got = await read_topic(kafka, topics.TELEMETRY_READINGS, prefix, f"check-{unique}", arrived, within=240)
    finally:
        await producer.stop()
        await restart_missing_brokers(three_brokers)
    missing = sent - {(r.meter_id, r.observed_at.seconds) for r in got}
    assert not missing, f"{len(missing)} of {len(sent)} readings never reached the readings topic"
