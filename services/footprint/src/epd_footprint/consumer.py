"""The windows consumer: apply each record in partition order, commit offsets after the DB transaction."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from epd_common.kafka import commit_processed
from epd_common.lag import ConsumerLag

from .service import FootprintService

log = logging.getLogger(__name__)


async def run_consumer(
    service: FootprintService,
    consumer: AIOKafkaConsumer,
    stop: asyncio.Event,
    max_records: int = 200,
    lag: ConsumerLag | None = None,
) -> None:
    """Until `stop`: poll a batch, apply every record (each its own transaction), then commit the batch.

    A database error propagates (nothing committed for the batch: the records come again after a
    restart, and (window_id, revision) makes the re-application a no-op)."""
    meter = lag or ConsumerLag("footprint", consumer)  # epd_consumer_lag_messages{component="footprint"}
    while not stop.is_set():
        batch = await consumer.getmany(timeout_ms=300, max_records=max_records)
        for tp, records in batch.items():
            for record in records:
                await service.handle_record(tp.topic, tp.partition, record.offset, record.value)
        await commit_processed(consumer, batch)
        await meter.maybe_update()
