"""Outbox relay: outbox rows -> ``epd.footprint.changes.v1`` (event) and ``epd.footprint.records.v1``
(compacted, latest version per product).

One batch = one PostgreSQL transaction: claim products (advisory xact locks), read each product's
publishable run (outbox.py), pipeline the sends through the idempotent producer (acks=all), await
every ack, then mark the rows published and commit. A relay killed between the acks and the commit
re-publishes those rows on restart: the feed is at-least-once and subscribers dedupe on
(event id, version) and product sequence. Within one product the sends go to one partition in
sequence order; the idempotent producer keeps them in that order, and no row of a product is sent
before the previous batch of that product was acked and marked (the claim is held until then).

The relay runs against the Outbox protocol below (PostgreSQL: ``outbox.PgOutbox``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiokafka.errors import KafkaError

from epd_common import topics
from epd_common.kafka import TopicProducer
from epd_publisher import metrics
from epd_publisher.outbox import OutboxRow

log = logging.getLogger(__name__)


class OutboxBatch(Protocol):
    """One relay batch's view of the outbox, inside one transaction that holds the product claims."""

    async def claim_products(self, max_products: int) -> list[str]:
        """Claim up to ``max_products`` products with publishable rows (no other batch holds them)."""
        ...

    async def publishable_rows(self, products: list[str], max_rows: int) -> list[OutboxRow]:
        """Each claimed product's gap-free run after its last published sequence, in sequence order."""
        ...

    async def mark_published(self, rows: list[OutboxRow]) -> None:
        """Mark the rows published and advance the relay positions (committed with the batch)."""
        ...


class Outbox(Protocol):
    @property
    def retryable(self) -> tuple[type[Exception], ...]:
        """Errors of this store the relay's loop logs and retries."""
        ...

    def batch(self) -> AbstractAsyncContextManager[OutboxBatch]:
        """One transaction: committed when the block exits normally, rolled back (claims released) when it raises."""
        ...

    async def oldest_unpublished_age(self) -> float:
        """Seconds since the oldest unpublished row was written (0 when none)."""
        ...


@dataclass(frozen=True)
class RelayConfig:
    topic_prefix: str = ""
    max_products: int = 200
    max_rows: int = 2000
    poll_interval_s: float = 0.1


def headers_for(row: OutboxRow) -> list[tuple[str, bytes]]:
    return [
        ("event-id", row.event_id.encode()),
        ("version", str(row.version).encode()),
        ("product-sequence", str(row.product_sequence).encode()),
    ]


class Relay:
    def __init__(self, store: Outbox, producer: TopicProducer, config: RelayConfig = RelayConfig()) -> None:
        self._outbox: Outbox = store
        self._producer = producer
        self._config = config
        self._changes = topics.FOOTPRINT_CHANGES.topic(config.topic_prefix)
        self._records = topics.FOOTPRINT_RECORDS.topic(config.topic_prefix)

    async def run_batch(self) -> int:
        """Publish one batch; returns the number of rows published (0: nothing publishable now)."""
        started = time.perf_counter()
        async with self._outbox.batch() as batch:
            products = await batch.claim_products(self._config.max_products)
            rows = await batch.publishable_rows(products, self._config.max_rows)
            if not rows:
                return 0
            futures = []
            for row in rows:
                try:
                    changed = topics.FOOTPRINT_CHANGES.decode(row.payload)
                except topics.MalformedRecord as exc:
                    # A bug upstream (the footprint service writes the payload). Blocking the product
                    # forever would stop all its later versions: count it, log it, mark it handled.
                    metrics.OUTBOX_MALFORMED.inc()
                    log.error(
                        "outbox row is not a FootprintChanged; not published",
                        extra={"outbox_id": row.outbox_id, "error": str(exc)},
                    )
                    continue
                futures.append(
                    await self._producer.send(
                        topics.FOOTPRINT_CHANGES, row.product_id, changed, headers=headers_for(row), topic=self._changes
                    )
                )
                if changed.HasField("footprint"):
                    futures.append(
                        await self._producer.send(
                            topics.FOOTPRINT_RECORDS,
                            row.product_id,
                            changed.footprint,
                            headers=headers_for(row),
                            topic=self._records,
                        )
                    )
            await asyncio.gather(*futures)
            await batch.mark_published(rows)
        now = datetime.now(UTC)
        for row in rows:
            metrics.PUBLICATION_FRESHNESS.observe(max(0.0, (now - row.created_at).total_seconds()))
        metrics.EVENTS_PUBLISHED.inc(len(rows))
        metrics.RELAY_BATCH_SECONDS.observe(time.perf_counter() - started)
        return len(rows)

    async def refresh_gauge(self) -> None:
        metrics.OUTBOX_OLDEST_AGE.set(await self._outbox.oldest_unpublished_age())

    async def run(self, stop: asyncio.Event) -> None:
        last_gauge = 0.0
        while not stop.is_set():
            try:
                published = await self.run_batch()
                if time.monotonic() - last_gauge > 1.0:
                    await self.refresh_gauge()
                    last_gauge = time.monotonic()
            except (*self._outbox.retryable, KafkaError) as exc:
                log.warning("relay batch failed, retrying", extra={"error": str(exc)})
                published = 0
                await asyncio.sleep(1.0)
            if published == 0:
                try:
                    await asyncio.wait_for(stop.wait(), self._config.poll_interval_s)
                except TimeoutError:
                    pass
