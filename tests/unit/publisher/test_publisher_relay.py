"""The outbox relay's rules through the in-memory Outbox and a producer whose acks the test holds:
both topics, keys and headers; rows marked published only after every ack; a failed ack marks nothing
(the batch is sent again); a malformed row is counted and marked so it does not block its product.
No I/O; waits are on conditions with a bound that only catches a hang."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaTimeoutError
from publisher_fakes import HeldAcks, MemoryOutbox

from epd.v1 import footprint_pb2
from epd_publisher import metrics
from epd_publisher.outbox import OutboxRow
from epd_publisher.relay import Relay, RelayConfig

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
PREFIX = "unit."
CHANGES, RECORDS = f"{PREFIX}epd.footprint.changes.v1", f"{PREFIX}epd.footprint.records.v1"
HANG = 30.0


def row(outbox_id: int, product: str, sequence: int, *, footprint: bool = True, payload: bytes | None = None):
    event_id = str(uuid.uuid4())
    changed = footprint_pb2.FootprintChanged(
        event_id=event_id, product_id=product, version=sequence, product_sequence=sequence
    )
    if footprint:
        changed.footprint.CopyFrom(footprint_pb2.FootprintVersion(pf_id=f"urn:uuid:{uuid.uuid4()}", product_id=product))
    body = changed.SerializeToString() if payload is None else payload
    return OutboxRow(outbox_id, event_id, product, sequence, sequence, body, NOW)


def relay(outbox: MemoryOutbox, producer: HeldAcks) -> Relay:
    return Relay(outbox, producer, RelayConfig(PREFIX))


async def test_rows_go_to_both_topics_by_product_then_are_marked_published():
    outbox = MemoryOutbox([row(1, "magnet-a", 1), row(2, "oxide-b", 4), row(3, "magnet-a", 2)])
    producer = HeldAcks()
    before = metrics.EVENTS_PUBLISHED._value.get()
    assert await relay(outbox, producer).run_batch() == 3
    assert [(topic, key) for topic, key, _, _ in producer.sent] == [
        (CHANGES, "magnet-a"),
        (RECORDS, "magnet-a"),
        (CHANGES, "magnet-a"),
        (RECORDS, "magnet-a"),
        (CHANGES, "oxide-b"),
        (RECORDS, "oxide-b"),
    ]
    _, _, message, headers = producer.sent[0]
    first = outbox.rows[0]
    assert isinstance(message, footprint_pb2.FootprintChanged) and message.event_id == first.event_id
    assert headers == [("event-id", first.event_id.encode()), ("version", b"1"), ("product-sequence", b"1")]
    assert isinstance(producer.sent[1][2], footprint_pb2.FootprintVersion)
    assert outbox.published == [1, 3, 2]
    assert metrics.EVENTS_PUBLISHED._value.get() == before + 3
    assert await relay(outbox, producer).run_batch() == 0  # nothing left


async def test_rows_are_marked_only_after_every_ack():
    outbox, producer = MemoryOutbox([row(1, "magnet-a", 1), row(2, "magnet-a", 2)]), HeldAcks(auto_ack=False)
    batch = asyncio.create_task(relay(outbox, producer).run_batch())
    while len(producer.pending) < 4:  # both rows, both topics
        producer.queued.clear()
        await asyncio.wait_for(producer.queued.wait(), HANG)
    assert not batch.done() and outbox.published == []
    producer.ack_all()
    assert await asyncio.wait_for(batch, HANG) == 2
    assert outbox.published == [1, 2]


async def test_a_failed_ack_marks_nothing_and_the_batch_is_sent_again():
    outbox, producer = MemoryOutbox([row(1, "magnet-a", 1)]), HeldAcks(auto_ack=False)
    batch = asyncio.create_task(relay(outbox, producer).run_batch())
    while len(producer.pending) < 2:
        producer.queued.clear()
        await asyncio.wait_for(producer.queued.wait(), HANG)
    producer.fail_all(KafkaTimeoutError())
    with pytest.raises(KafkaTimeoutError):
        await asyncio.wait_for(batch, HANG)
    assert outbox.published == []
    again = HeldAcks()
    assert await relay(outbox, again).run_batch() == 1  # at-least-once: the same row goes out again
    assert [key for _, key, _, _ in again.sent] == ["magnet-a", "magnet-a"] and outbox.published == [1]


async def test_a_malformed_row_is_counted_not_sent_and_does_not_block_its_product():
    outbox = MemoryOutbox([row(1, "magnet-a", 1, payload=b"\xff\xff not protobuf"), row(2, "magnet-a", 2)])
    producer = HeldAcks()
    before = metrics.OUTBOX_MALFORMED._value.get()
    assert await relay(outbox, producer).run_batch() == 2
    assert metrics.OUTBOX_MALFORMED._value.get() == before + 1
    assert [(topic, message.product_sequence) for topic, _, message, _ in producer.sent if topic == CHANGES] == [
        (CHANGES, 2)
    ]
    assert outbox.published == [1, 2]


async def test_a_change_without_a_version_goes_to_the_change_feed_only():
    outbox, producer = MemoryOutbox([row(1, "magnet-a", 1, footprint=False)]), HeldAcks()
    assert await relay(outbox, producer).run_batch() == 1
    assert [topic for topic, _, _, _ in producer.sent] == [CHANGES]
