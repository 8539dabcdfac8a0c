"""The footprint service's windows consumer with a poison message, on in-memory fakes: a window the service
raises on every time goes to the dead letters with the reason, the rest of the batch is applied, and the
batch is committed past it; a database outage is not poison and still stops the consumer uncommitted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition

from epd_common.db import TRANSIENT_ERRORS
from epd_common.dead_letters import PoisonGuard, SourceRecord
from epd_footprint.consumer import run_consumer

TOPIC = "t.epd.intensity.windows.v1"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


class Consumer:
    """One batch, then nothing; the test's stop is set when the batch has been handed out."""

    def __init__(self, records: list[Record], stop: asyncio.Event) -> None:
        self.batches = [{TopicPartition(TOPIC, 1): records}]
        self.stop = stop
        self.commits: list[dict[TopicPartition, int]] = []

    async def getmany(self, timeout_ms: int, max_records: int):
        if self.batches:
            return self.batches.pop(0)
        self.stop.set()
        return {}

    async def commit(self, offsets) -> None:
        self.commits.append(offsets)


class Lag:
    async def maybe_update(self) -> None:
        return None


class Service:
    """Raises ``error`` for the record whose value is ``poison``; records the others."""

    def __init__(self, poison: bytes, error: Exception) -> None:
        self.poison, self.error = poison, error
        self.applied: list[int] = []

    async def handle_record(self, topic: str, partition: int, offset: int, value: bytes | None):
        if value == self.poison:
            raise self.error
        self.applied.append(offset)


class Sink:
    def __init__(self) -> None:
        self.letters: list[tuple[SourceRecord, BaseException, int]] = []

    async def send(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        self.letters.append((record, error, attempts))


def records() -> list[Record]:
    return [Record(TOPIC, 1, offset, b"roasting-1", value) for offset, value in enumerate((b"w0", b"bad", b"w2"))]


async def test_a_poison_window_is_dead_lettered_and_the_batch_committed_past_it():
    stop, sink = asyncio.Event(), Sink()
    consumer, service = Consumer(records(), stop), Service(b"bad", ArithmeticError("numeric field overflow"))
    guard = PoisonGuard(sink, attempts=3, transient=TRANSIENT_ERRORS, first_delay_s=0)
    await asyncio.wait_for(run_consumer(service, consumer, stop, lag=Lag(), guard=guard), 30)  # type: ignore[arg-type]
    assert service.applied == [0, 2]
    ((record, error, attempts),) = sink.letters
    assert (record.offset, record.value, attempts) == (1, b"bad", 3) and isinstance(error, ArithmeticError)
    assert consumer.commits == [{TopicPartition(TOPIC, 1): 3}]


async def test_a_database_outage_is_not_poison_and_nothing_is_committed():
    stop, sink = asyncio.Event(), Sink()
    consumer, service = Consumer(records(), stop), Service(b"bad", ConnectionRefusedError("PostgreSQL is down"))
    guard = PoisonGuard(sink, attempts=2, transient=TRANSIENT_ERRORS, first_delay_s=0)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(run_consumer(service, consumer, stop, lag=Lag(), guard=guard), 30)  # type: ignore[arg-type]
    assert sink.letters == [] and consumer.commits == []
