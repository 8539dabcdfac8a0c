"""Poison messages: a record its consumer cannot handle, however often it tries, is set aside on a
dead-letter topic and the consumer moves on, instead of stopping (and stopping again on the same
record after every restart).

``PoisonGuard.run(record, handle)`` runs ``handle`` up to ``attempts`` times, with backoff between tries.
- An error of the ``transient`` kinds says the way to the data failed (the database is down, a deadlock,
  a connection lost), not the record: it is retried the same way, and after the last try it propagates,
  as before (nothing is committed past the record; the service stops and its supervisor restarts it).
- Any other error after the last try sends the record to the dead-letter topic (``epd.v1.DeadLetter``:
  the record's topic, partition, offset, key and value unchanged, the consumer, the error's type and
  message, the attempts), waits for the broker's acknowledgement and returns False: the caller commits
  past the record. ``epd_consumer_dead_letters_total{component}`` counts them.

Without a sink (``dead_letters=None``) every error propagates after the tries (the old behaviour,
for consumers that have no dead-letter topic).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter

from epd.v1 import dead_letter_pb2
from epd_common.kafka import TopicProducer
from epd_common.topics import TopicSpec

log = logging.getLogger(__name__)

DEAD_LETTERS = Counter(
    "epd_consumer_dead_letters_total",
    "Records set aside on a dead-letter topic after their handling failed every attempt",
    ["component"],
)
MAX_DETAIL = 2000


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """What a dead letter keeps of the consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @classmethod
    def of(cls, record: Any) -> SourceRecord:
        """From an aiokafka ConsumerRecord (or anything with the same attributes)."""
        return cls(record.topic, record.partition, record.offset, record.key, record.value)


class DeadLetterSink(Protocol):
    async def send(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        """Set the record aside with the reason; returns once it is durable."""
        ...


class KafkaDeadLetters:
    """Dead letters to a registry topic (one of ``epd_common.topics``' dead-letter topics), keyed as the
    source record was."""

    def __init__(
        self, producer: TopicProducer, spec: TopicSpec, *, consumer: str, component: str, prefix: str = ""
    ) -> None:
        if spec.message_type is not dead_letter_pb2.DeadLetter:
            raise TypeError(f"{spec.name} is not a dead-letter topic")
        self._producer = producer
        self._spec = spec
        self._topic = spec.topic(prefix)
        self._consumer = consumer
        self._component = component

    async def send(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        at = Timestamp()
        at.FromDatetime(datetime.now(UTC))
        letter = dead_letter_pb2.DeadLetter(
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            source_key=record.key or b"",
            source_value=record.value or b"",
            consumer=self._consumer,
            reason=type(error).__name__[:200],
            detail=str(error)[:MAX_DETAIL],
            attempts=attempts,
            dead_lettered_at=at,
        )
        key = (record.key or b"").decode("utf-8", "replace")
        await (await self._producer.send(self._spec, key, letter, topic=self._topic))
        DEAD_LETTERS.labels(self._component).inc()
        log.error(
            "record set aside on the dead-letter topic after %d failed attempts",
            attempts,
            extra={
                "dead_letter_topic": self._topic,
                "source_topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": letter.reason,
                "error": letter.detail[:500],
            },
        )


class PoisonGuard:
    def __init__(
        self,
        dead_letters: DeadLetterSink | None,
        *,
        attempts: int = 5,
        transient: tuple[type[BaseException], ...] = (),
        first_delay_s: float = 0.2,
        max_delay_s: float = 5.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._sink = dead_letters
        self._attempts = attempts
        self._transient = transient
        self._first_delay_s = first_delay_s
        self._max_delay_s = max_delay_s

    async def run(self, record: SourceRecord, handle: Callable[[], Awaitable[object]]) -> bool:
        """Handle the record; True when handled, False when it was set aside as a dead letter."""
        delay = self._first_delay_s
        for attempt in range(1, self._attempts + 1):
            try:
                await handle()
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                poison = not isinstance(exc, self._transient)
                if attempt == self._attempts:
                    if not poison or self._sink is None:
                        raise
                    await self._sink.send(record, exc, attempt)
                    return False
                log.warning(
                    "handling a record failed (attempt %d of %d); retrying",
                    attempt,
                    self._attempts,
                    exc_info=True,
                    extra={"topic": record.topic, "partition": record.partition, "offset": record.offset},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay_s)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt
