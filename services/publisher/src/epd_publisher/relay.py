"""Outbox relay: outbox rows -> ``epd.footprint.changes.v1`` (event) and ``epd.footprint.records.v1``
(compacted, latest version per product).

One batch = one PostgreSQL transaction: claim products (advisory xact locks), read each product's
publishable run (outbox.py), pipeline the sends through the idempotent producer (acks=all), await
every ack, then mark the rows published and commit. A relay killed between the acks and the commit
re-publishes those rows on restart: the feed is at-least-once and subscribers dedupe on
(event id, version) and product sequence. Within one product the sends go to one partition in
sequence order; the idempotent producer keeps them in that order, and no row of a product is sent
before the previous batch of that product was acked and marked (the claim is held until then).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka.errors import KafkaError

from epd_common import topics
from epd_common.kafka import TopicProducer
from epd_publisher import metrics, outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayConfig:
    topic_prefix: str = ""
    max_products: int = 200
    max_rows: int = 2000
    poll_interval_s: float = 0.1


def headers_for(row: outbox.OutboxRow) -> list[tuple[str, bytes]]:
    return [
        ("event-id", row.event_id.encode()),
        ("version", str(row.version).encode()),
        ("product-sequence", str(row.product_sequence).encode()),
    ]


class Relay:
    def __init__(self, pool: asyncpg.Pool, producer: TopicProducer, config: RelayConfig = RelayConfig()) -> None:
        self._pool = pool
        self._producer = producer
        self._config = config
        self._changes = topics.FOOTPRINT_CHANGES.topic(config.topic_prefix)
        self._records = topics.FOOTPRINT_RECORDS.topic(config.topic_prefix)

    async def run_batch(self) -> int:
        """Publish one batch; returns the number of rows published (0: nothing publishable now)."""
        started = time.perf_counter()
        async with self._pool.acquire() as conn, conn.transaction():
            products = await outbox.claim_products(conn, self._config.max_products)
            rows = await outbox.publishable_rows(conn, products, self._config.max_rows)
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
            await outbox.mark_published(conn, rows)
        now = datetime.now(UTC)
        for row in rows:
            metrics.PUBLICATION_FRESHNESS.observe(max(0.0, (now - row.created_at).total_seconds()))
        metrics.EVENTS_PUBLISHED.inc(len(rows))
        metrics.RELAY_BATCH_SECONDS.observe(time.perf_counter() - started)
        return len(rows)

    async def refresh_gauge(self) -> None:
        async with self._pool.acquire() as conn:
            metrics.OUTBOX_OLDEST_AGE.set(await outbox.oldest_unpublished_age(conn))

    async def run(self, stop: asyncio.Event) -> None:
        last_gauge = 0.0
        while not stop.is_set():
            try:
                published = await self.run_batch()
                if time.monotonic() - last_gauge > 1.0:
                    await self.refresh_gauge()
                    last_gauge = time.monotonic()
            except (OSError, asyncpg.PostgresError, KafkaError) as exc:
                log.warning("relay batch failed, retrying", extra={"error": str(exc)})
                published = 0
                await asyncio.sleep(1.0)
            if published == 0:
                try:
                    await asyncio.wait_for(stop.wait(), self._config.poll_interval_s)
                except TimeoutError:
                    pass
