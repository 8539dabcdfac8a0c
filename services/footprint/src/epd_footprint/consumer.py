"""The windows consumer: apply each record in partition order, commit offsets after the DB transaction.

A record whose handling keeps failing (a poison message: not malformed, which handle_record already
stores as rejected, but one the service raises on) is retried, then set aside on the dead-letter topic
with the reason by the ``PoisonGuard`` (``epd_common.dead_letters``), and the consumer moves on: it is
committed with its batch, so a restart does not meet it again. Database outages are not poison: they
propagate after the tries, nothing of the batch is committed, and the records come again after a
restart ((window_id, revision) makes the re-application a no-op).
"""

from __future__ import annotations

import asyncio
import functools
import logging

from aiokafka import AIOKafkaConsumer

from epd_common.dead_letters import PoisonGuard, SourceRecord
from epd_common.kafka import commit_processed
from epd_common.lag import ConsumerLag

from .service import FootprintService

log = logging.getLogger(__name__)


async def _handle(service: FootprintService, record: SourceRecord) -> None:
    await service.handle_record(record.topic, record.partition, record.offset, record.value)


async def run_consumer(
    service: FootprintService,
    consumer: AIOKafkaConsumer,
    stop: asyncio.Event,
    max_records: int = 200,
    lag: ConsumerLag | None = None,
    guard: PoisonGuard | None = None,
) -> None:
    """Until `stop`: poll a batch, apply every record (each its own transaction), then commit the batch.

    Without a guard, the first error propagates (nothing committed for the batch)."""
    meter = lag or ConsumerLag("footprint", consumer)  # epd_consumer_lag_messages{component="footprint"}
    guard = guard or PoisonGuard(None, attempts=1)
    while not stop.is_set():
        batch = await consumer.getmany(timeout_ms=300, max_records=max_records)
        for records in batch.values():
            for record in records:
                source = SourceRecord.of(record)
                await guard.run(source, functools.partial(_handle, service, source))
        await commit_processed(consumer, batch)
        await meter.maybe_update()
