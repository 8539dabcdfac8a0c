"""Subscriber library for registries: consume ``epd.footprint.changes.v1`` exactly once per effect.

- Manual commits: offsets are committed only after the callback's effect is durable.
- Dedupe, twice: a bounded in-memory set of recent (event id, version) pairs catches the common
  re-delivery cheaply; the durable rule is the product sequence: an event whose ``product_sequence``
  is <= the last one applied for its product is skipped. The position is kept by a ``SequenceStore``
  (``PgSequenceStore``: a row per subscriber and product in ``subscriber_positions``), updated in the
  SAME transaction as the callback's effect, so a crash between the two cannot apply an event twice.
- Order: the feed is keyed by product id, so a product's events share a partition; partitions are
  processed concurrently, each strictly in offset order, so the callback sees a product's events in
  sequence order.
- Authenticity (optional, ``authentic``): an event the check refuses (the publisher's: it matches no outbox
  row in PostgreSQL) is counted, logged, set aside on the dead-letter topic when there is one, and
  applied never: it does not advance its product's sequence, so a forged event with a huge sequence
  cannot hide the product's real later events.
- Poison messages (``epd_common.dead_letters``): a callback that fails ``handler_retries`` times is, with a
  ``dead_letters`` sink, set aside on the dead-letter topic with the reason and the subscriber moves on
  (its offset is committed with the batch; the product's later events apply as usual). Errors of the
  ``transient`` kinds (the database is away) are never poison: after the tries they stop the subscriber
  without committing, as do all errors when no sink is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from epd.v1 import footprint_pb2
from epd_common import topics
from epd_common.dead_letters import DeadLetterSink, PoisonGuard, SourceRecord
from epd_common.kafka import commit_processed
from epd_common.lag import ConsumerLag
from epd_publisher import metrics
from epd_publisher.errors import UnmatchedChange

log = logging.getLogger(__name__)

#: ``handler(event, ctx)``: ctx is what the store provides (a connection inside the position's
#: transaction for PgSequenceStore, None for MemorySequenceStore).
Handler = Callable[[footprint_pb2.FootprintChanged, Any], Awaitable[None]]
#: ``authentic(event)``: may the event be applied (True), or is it not what the source wrote (False)?
Authenticity = Callable[[footprint_pb2.FootprintChanged], Awaitable[bool]]


class SequenceStore(Protocol):
    async def apply_once(self, product_id: str, sequence: int, effect: Callable[[Any], Awaitable[None]]) -> bool:
        """Run ``effect`` and record ``sequence`` atomically unless it is <= the last applied; True if run."""
        ...


class PgSequenceStore:
    """Positions in ``subscriber_positions``; the effect runs inside the same transaction."""

    def __init__(self, pool: asyncpg.Pool, subscriber: str) -> None:
        self._pool = pool
        self._subscriber = subscriber

    async def apply_once(self, product_id: str, sequence: int, effect: Callable[[Any], Awaitable[None]]) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            advanced = await conn.fetchval(
                """
                INSERT INTO subscriber_positions (subscriber, product_id, last_sequence) VALUES ($1, $2, $3)
                ON CONFLICT (subscriber, product_id) DO UPDATE
                    SET last_sequence = excluded.last_sequence, updated_at = now()
                    WHERE subscriber_positions.last_sequence < excluded.last_sequence
                RETURNING true
                """,
                self._subscriber,
                product_id,
                sequence,
            )
            if not advanced:
                return False
            await effect(conn)
            return True


class MemorySequenceStore:
    """For tests and throwaway consumers: positions in a dict (not durable)."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}

    async def apply_once(self, product_id: str, sequence: int, effect: Callable[[Any], Awaitable[None]]) -> bool:
        if sequence <= self.positions.get(product_id, -1):
            return False
        await effect(None)
        self.positions[product_id] = sequence
        return True


class Subscriber:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: SequenceStore,
        handler: Handler,
        *,
        name: str,
        recent_ids: int = 100_000,
        handler_retries: int = 5,
        lag: ConsumerLag | None = None,
        dead_letters: DeadLetterSink | None = None,
        transient: tuple[type[BaseException], ...] = (),
        retry_delay_s: float = 0.2,
        authentic: Authenticity | None = None,
    ) -> None:
        self._consumer = consumer
        self._authentic = authentic
        self._dead_letters = dead_letters
        self._lag = lag  # exports epd_consumer_lag_messages for this consumer when given
        self._store = store
        self._handler = handler
        self._name = name
        self._recent: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._recent_max = recent_ids
        self._guard = PoisonGuard(
            dead_letters, attempts=handler_retries, transient=transient, first_delay_s=retry_delay_s
        )
        self.applied = 0
        self.skipped = 0
        self.dead_lettered = 0
        self.unmatched = 0

    def _seen(self, key: tuple[str, int]) -> bool:
        if key in self._recent:
            self._recent.move_to_end(key)
            return True
        return False

    def _remember(self, key: tuple[str, int]) -> None:
        self._recent[key] = None
        while len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)

    async def _apply(self, event: footprint_pb2.FootprintChanged, record: Any) -> None:
        key = (event.event_id, event.version)
        if self._seen(key):
            self.skipped += 1
            metrics.SUBSCRIBER_DUPLICATES.labels(self._name).inc()
            return
        if self._authentic is not None and not await self._is_authentic(event, record):
            return
        ran: list[bool] = []

        async def attempt() -> None:
            # A failed effect rolls back with its position, so each attempt starts from the same state.
            ran.append(
                await self._store.apply_once(
                    event.product_id, event.product_sequence, lambda ctx: self._handler(event, ctx)
                )
            )

        if not await self._guard.run(SourceRecord.of(record), attempt):
            self.dead_lettered += 1  # set aside with the reason; the batch's commit moves past it
            return
        self._remember(key)
        if ran[-1]:
            self.applied += 1
        else:
            self.skipped += 1
            metrics.SUBSCRIBER_DUPLICATES.labels(self._name).inc()

    async def _is_authentic(self, event: footprint_pb2.FootprintChanged, record: Any) -> bool:
        """Run the authenticity check (retried like the handler: a database outage stops the subscriber);
        an event it refuses is counted, logged and set aside."""
        verdict: list[bool] = []

        async def check() -> None:
            assert self._authentic is not None
            verdict.append(await self._authentic(event))

        if not await self._guard.run(SourceRecord.of(record), check):
            self.dead_lettered += 1
            return False
        if verdict[-1]:
            return True
        self.unmatched += 1
        metrics.SUBSCRIBER_UNMATCHED.labels(self._name).inc()
        log.error(
            "change-feed event matches no outbox row; not applied",
            extra={"subscriber": self._name, "event_id": event.event_id[:64], "offset": record.offset},
        )
        if self._dead_letters is not None:
            reason = UnmatchedChange(f"event {event.event_id[:64]!r} matches no outbox row")
            await self._dead_letters.send(SourceRecord.of(record), reason, 1)
        return False

    async def _partition(self, records: list) -> None:
        for record in records:
            try:
                event = topics.FOOTPRINT_CHANGES.decode(record.value or b"")
            except topics.MalformedRecord as exc:
                metrics.SUBSCRIBER_MALFORMED.labels(self._name).inc()
                log.error(
                    "malformed change-feed record skipped",
                    extra={"subscriber": self._name, "offset": record.offset, "error": str(exc)},
                )
                continue
            if not event.product_id or not event.event_id:
                metrics.SUBSCRIBER_MALFORMED.labels(self._name).inc()
                log.error(
                    "change-feed record without product or event id skipped",
                    extra={"subscriber": self._name, "offset": record.offset},
                )
                continue
            await self._apply(event, record)

    async def process(self, batch: dict[TopicPartition, list]) -> None:
        """Apply one ``getmany`` batch (partitions concurrently, each in order), then commit it."""
        await asyncio.gather(*(self._partition(records) for records in batch.values()))
        await commit_processed(self._consumer, batch)

    async def run(self, stop: asyncio.Event, poll_ms: int = 200) -> None:
        while not stop.is_set():
            batch = await self._consumer.getmany(timeout_ms=poll_ms)
            if batch:
                await self.process(batch)
            if self._lag is not None:
                await self._lag.maybe_update()
