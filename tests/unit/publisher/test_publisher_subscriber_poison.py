"""The change-feed subscriber (the publisher's fan-out runs on it) with a poison message, on in-memory fakes:
the event whose handler fails every attempt goes to the dead letters with the reason, the others of the
batch are applied, and the batch is committed past it, so a restart does not meet it again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition

from epd.v1 import footprint_pb2
from epd_common.dead_letters import SourceRecord
from epd_publisher.subscriber import MemorySequenceStore, Subscriber

TOPIC = "t.epd.footprint.changes.v1"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


class Consumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


class Sink:
    def __init__(self) -> None:
        self.letters: list[tuple[SourceRecord, BaseException, int]] = []

    async def send(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        self.letters.append((record, error, attempts))


def batch(*products: str) -> dict[TopicPartition, list[Record]]:
    records = []
    for offset, product in enumerate(products):
        event = footprint_pb2.FootprintChanged(
            event_id=str(uuid.uuid4()), product_id=product, version=1, product_sequence=1
        )
        records.append(Record(TOPIC, 0, offset, product.encode(), event.SerializeToString()))
    return {TopicPartition(TOPIC, 0): records}


def handler_failing_on(poison: str, seen: list[str]):
    async def handler(event: footprint_pb2.FootprintChanged, ctx) -> None:
        if event.product_id == poison:
            raise KeyError(f"no partner target for {poison}")
        seen.append(event.product_id)

    return handler


async def test_a_poison_event_is_dead_lettered_and_the_subscriber_moves_on():
    consumer, sink, seen = Consumer(), Sink(), []
    handler = handler_failing_on("magnet-poison", seen)
    subscriber = Subscriber(
        consumer,  # type: ignore[arg-type]
        MemorySequenceStore(),
        handler,
        name="partner-fanout",
        handler_retries=3,
        dead_letters=sink,
        retry_delay_s=0,
    )
    await subscriber.process(batch("magnet-a", "magnet-poison", "magnet-b"))  # type: ignore[arg-type]
    assert seen == ["magnet-a", "magnet-b"] and subscriber.dead_lettered == 1
    ((record, error, attempts),) = sink.letters
    assert (record.topic, record.partition, record.offset, record.key) == (TOPIC, 0, 1, b"magnet-poison")
    assert isinstance(error, KeyError) and attempts == 3
    assert consumer.commits == [{TopicPartition(TOPIC, 0): 3}]  # past the poison: a restart starts after it


async def test_without_dead_letters_a_failing_handler_still_stops_the_subscriber_uncommitted():
    consumer, seen = Consumer(), []
    handler = handler_failing_on("magnet-poison", seen)
    subscriber = Subscriber(
        consumer,  # type: ignore[arg-type]
        MemorySequenceStore(),
        handler,
        name="registry",
        handler_retries=2,
        retry_delay_s=0,
    )
    with pytest.raises(KeyError):
        await subscriber.process(batch("magnet-poison"))  # type: ignore[arg-type]
    assert consumer.commits == []
