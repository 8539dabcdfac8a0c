"""OffsetProbe (offset_probe.py) against the real broker: the first record a consumer gets reading a
partition from an offset, across a transaction's commit marker (an offset no consumer receives)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from epd_common.kafka import ensure_topics
from epd_common.topics import SINGLE_BROKER, TELEMETRY_READINGS
from epd_intensity.app.offset_probe import OffsetProbe


async def test_the_probe_reads_the_first_record_from_an_offset_and_steps_over_a_commit_marker(kafka, topic_prefix):
    await ensure_topics(kafka, (TELEMETRY_READINGS,), replication=SINGLE_BROKER, prefix=topic_prefix)
    topic = TELEMETRY_READINGS.topic(topic_prefix)
    producer = AIOKafkaProducer(
        **kafka.client_kwargs(), transactional_id=f"{topic_prefix}probe", enable_idempotence=True
    )
    await producer.start()
    try:
        async with producer.transaction():  # offsets 0, 1; the commit marker takes 2
            for value in (b"a", b"b"):
                await producer.send(topic, value, partition=0)
        async with producer.transaction():  # offset 3; marker 4
            await producer.send(topic, b"c", partition=0)
    finally:
        await producer.stop()
    probe = OffsetProbe(kafka, topic, "read_uncommitted")
    try:
        assert await probe.first_from(0, 0) == 0
        assert await probe.first_from(0, 1) == 1
        assert await probe.first_from(0, 2) == 3  # the marker is stepped over: a real step
        assert await probe.first_from(0, 3) == 3
        assert await probe.first_from(0, 5, timeout_s=1.0) is None  # nothing there yet
    finally:
        await probe.stop()
