"""PoisonGuard and KafkaDeadLetters (epd_common.dead_letters) with in-memory fakes: a record that fails every
attempt is set aside with the reason and the caller moves on; transient errors are never poison."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from epd.v1 import dead_letter_pb2
from epd_common import topics
from epd_common.db import TRANSIENT_ERRORS
from epd_common.dead_letters import KafkaDeadLetters, PoisonGuard, SourceRecord

RECORD = SourceRecord("t.epd.intensity.windows.v1", 2, 41, b"roasting-1", b"\x0a\x03abc")


class Sink:
    def __init__(self) -> None:
        self.letters: list[tuple[SourceRecord, BaseException, int]] = []

    async def send(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        self.letters.append((record, error, attempts))


class Failing:
    """Fails the first ``times`` calls with ``error``, then succeeds."""

    def __init__(self, times: int, error: Exception) -> None:
        self.times, self.error, self.calls = times, error, 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error


async def test_a_record_that_fails_every_attempt_is_set_aside_with_the_reason():
    sink, handle = Sink(), Failing(99, ValueError("numeric field overflow"))
    guard = PoisonGuard(sink, attempts=3, transient=TRANSIENT_ERRORS, first_delay_s=0)
    assert await guard.run(RECORD, handle) is False
    assert handle.calls == 3
    ((record, error, attempts),) = sink.letters
    assert record == RECORD and isinstance(error, ValueError) and attempts == 3


async def test_a_record_that_succeeds_on_a_later_attempt_is_handled():
    sink, handle = Sink(), Failing(2, RuntimeError("flaky"))
    assert await PoisonGuard(sink, attempts=3, first_delay_s=0).run(RECORD, handle) is True
    assert sink.letters == [] and handle.calls == 3


@pytest.mark.parametrize(
    "error", [ConnectionRefusedError("db down"), asyncpg.ConnectionDoesNotExistError("gone"), TimeoutError()]
)
async def test_transient_errors_propagate_after_the_attempts_and_are_never_dead_letters(error):
    sink, handle = Sink(), Failing(99, error)
    with pytest.raises(type(error)):
        await PoisonGuard(sink, attempts=2, transient=TRANSIENT_ERRORS, first_delay_s=0).run(RECORD, handle)
    assert sink.letters == [] and handle.calls == 2


async def test_without_a_sink_every_error_propagates_as_before():
    with pytest.raises(ValueError):
        await PoisonGuard(None, attempts=2, first_delay_s=0).run(RECORD, Failing(99, ValueError("x")))


class Producer:
    """TopicProducer: keeps what was sent, acknowledges at once."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    async def send(self, spec, key, message, headers=None, topic=None) -> asyncio.Future:
        self.sent.append((spec, key, message, topic))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


async def test_kafka_dead_letters_keep_the_record_unchanged_with_consumer_reason_and_attempts():
    producer = Producer()
    spec = topics.INTENSITY_WINDOWS_DEAD_LETTERS
    letters = KafkaDeadLetters(producer, spec, consumer="epd-footprint", component="footprint", prefix="t.")  # type: ignore[arg-type]
    await letters.send(RECORD, ValueError("x" * 5000), 5)
    ((sent_spec, key, message, topic),) = producer.sent
    assert (sent_spec, key, topic) == (spec, "roasting-1", "t.epd.intensity.windows.dead-letters.v1")
    assert isinstance(message, dead_letter_pb2.DeadLetter)
    assert (message.source_topic, message.source_partition, message.source_offset) == (RECORD.topic, 2, 41)
    assert (message.source_key, message.source_value) == (RECORD.key, RECORD.value)
    assert (message.consumer, message.reason, message.attempts) == ("epd-footprint", "ValueError", 5)
    assert len(message.detail) == 2000 and message.dead_lettered_at.seconds > 0
    assert spec.decode(spec.encode(message)) == message
    with pytest.raises(TypeError, match="not a dead-letter topic"):
        KafkaDeadLetters(producer, topics.INTENSITY_WINDOWS, consumer="c", component="c")  # type: ignore[arg-type]
