"""Every message type of the registry through the real broker: keyed, and in order per key."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import dead_letter_pb2, footprint_pb2, intensity_pb2, telemetry_pb2
from epd_common import topics
from epd_common.kafka import TopicProducer, commit_processed, ensure_topics, make_consumer, make_producer


def sample(spec: topics.TopicSpec, key: str, seq: int):
    ts = Timestamp(seconds=1_700_000_000 + seq)
    m = spec.message_type
    if m is telemetry_pb2.SignedTelemetryBatch:
        batch = telemetry_pb2.TelemetryBatch(batch_id=f"{key}-{seq}", plant_id=key, sequence=seq, created_at=ts)
        return m(batch=batch.SerializeToString(), signature=b"s" * 64, key_id="k1", plant_id=key)
    if m is telemetry_pb2.ReadingBatch:
        one = telemetry_pb2.Reading(reading_id=f"{key}-{seq}", plant_id=key, quantity=f"{seq}.5", observed_at=ts)
        return m(plant_id=key, readings=[one, one])
    if m is telemetry_pb2.RejectedReading:
        return m(
            rejection_id=f"{key}-{seq}",
            plant_id=key,
            reason=telemetry_pb2.REJECTION_REASON_NOT_FINITE,
            original_payload=b"\x00\x01",
        )
    if m is intensity_pb2.IntensityWindow:
        return m(window_id=f"{key}-{seq}", process_id=key, revision=seq, window_start=ts, total_co2e_kg="1.25")
    if m is footprint_pb2.FootprintVersion:
        return m(pf_id=f"urn:uuid:{seq}", product_id=key, version=seq)
    if m is footprint_pb2.FootprintChanged:
        return m(
            event_id=f"{key}-{seq}",
            product_id=key,
            version=seq,
            product_sequence=seq,
            footprint=footprint_pb2.FootprintVersion(product_id=key, version=seq),
        )
    if m is dead_letter_pb2.DeadLetter:
        return m(source_topic="epd.intensity.windows.v1", source_offset=seq, source_key=key.encode(), reason="X")
    raise AssertionError(f"no sample for {m}")


@pytest.mark.parametrize("spec", topics.ALL_TOPICS, ids=lambda s: s.name)
async def test_message_type_round_trips_keyed_and_in_order(kafka, topic_prefix, unique, spec):
    await ensure_topics(kafka, [spec], replication=topics.SINGLE_BROKER, prefix=topic_prefix)
    topic = topic_prefix + spec.name
    keys = [f"key-{i}" for i in range(5)]
    sent = [(k, sample(spec, k, seq)) for seq in range(40) for k in keys]
    producer = make_producer(kafka)
    await producer.start()
    try:
        await TopicProducer(producer).send_all(spec, sent, topic=topic)
    finally:
        await producer.stop()

    consumer = make_consumer(kafka, f"g-{unique}", topic)
    await consumer.start()
    got: dict[str, list] = defaultdict(list)
    partitions_of_key: dict[str, set[int]] = defaultdict(set)
    try:
        async with asyncio.timeout(60):
            while sum(map(len, got.values())) < len(sent):
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, records in batch.items():
                    for rec in records:
                        key = rec.key.decode()
                        got[key].append(spec.decode(rec.value))
                        partitions_of_key[key].add(tp.partition)
                await commit_processed(consumer, batch)
    finally:
        await consumer.stop()
    for k in keys:
        assert got[k] == [m for kk, m in sent if kk == k], f"order or content differs for {k}"
        assert len(partitions_of_key[k]) == 1, "a key must stay in one partition"
