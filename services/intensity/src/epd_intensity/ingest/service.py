"""Ingest service (adapter): epd.telemetry.raw.v1 -> process_batch -> readings / rejected topics.

Per poll: run the pure pipeline on every record, pipeline all output sends and await every ack,
then save state + next offsets in PostgreSQL (one transaction), then commit the Kafka offsets.
See state_store.py for the crash semantics. Kafka, PostgreSQL and the clock are passed in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from prometheus_client import Counter, Gauge

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.kafka import TopicProducer
from epd_intensity.ingest.pipeline import IngestConfig, IngestState, process_batch
from epd_intensity.ingest.registry import PlantRegistry
from epd_intensity.ingest.state_store import IngestStateStore, PollChanges

log = logging.getLogger(__name__)

READINGS_ACCEPTED = Counter("epd_ingest_readings_accepted_total", "Readings accepted and produced")
READINGS_REJECTED = Counter("epd_ingest_readings_rejected_total", "Readings or batches rejected", ["reason"])
BATCHES = Counter("epd_ingest_batches_total", "Raw records processed")
LAG = Gauge("epd_ingest_lag_seconds", "Age of the last processed raw record (broker timestamp) when processed")

# Bounded label values: the names of the RejectionReason enum, nothing plant-supplied.
_REASONS = {v: telemetry_pb2.RejectionReason.Name(v).removeprefix("REJECTION_REASON_").lower()
            for v in telemetry_pb2.RejectionReason.values()}


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: IngestService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._service.restore(assigned)


class IngestService:
    def __init__(self, consumer: AIOKafkaConsumer, producer: TopicProducer, registry: PlantRegistry,
                 store: IngestStateStore, *, prefix: str = "", config: IngestConfig = IngestConfig(),
                 refresh_registry: Callable[[], object] | None = None, refresh_seconds: float = 60.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._consumer = consumer
        self._producer = producer
        self._registry = registry
        self._store = store
        self._config = config
        self._clock = clock
        self._refresh = refresh_registry
        self._refresh_seconds = refresh_seconds
        self._next_refresh = time.monotonic() + refresh_seconds
        self.raw_topic = topics.TELEMETRY_RAW.topic(prefix)
        self.readings_topic = topics.TELEMETRY_READINGS.topic(prefix)
        self.rejected_topic = topics.TELEMETRY_REJECTED.topic(prefix)
        self.state = IngestState.for_config(config)
        self.processed = 0
        self._stopping = asyncio.Event()

    def subscribe(self) -> None:
        self._consumer.subscribe([self.raw_topic], listener=_Rebalance(self))

    async def restore(self, assigned: list[TopicPartition]) -> None:
        """Reload the saved state and seek every assigned partition to its saved next offset."""
        self.state, offsets = await self._store.load(self.raw_topic)
        for tp in assigned:
            if tp.partition in offsets:
                self._consumer.seek(tp, offsets[tp.partition])
        log.info("ingest assigned %s; state restored", [tp.partition for tp in assigned])

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        self.subscribe()
        while not self._stopping.is_set():
            await self._maybe_refresh()
            polled = await self._consumer.getmany(timeout_ms=500, max_records=500)
            if polled:
                await self.handle(polled)

    async def _maybe_refresh(self) -> None:
        if self._refresh is not None and time.monotonic() >= self._next_refresh:
            self._next_refresh = time.monotonic() + self._refresh_seconds
            try:
                await self._refresh()  # type: ignore[misc]
            except Exception:  # keep the last snapshot; the next interval retries
                log.exception("plant registry refresh failed; keeping the previous snapshot")

    async def handle(self, polled: dict[TopicPartition, list]) -> None:
        now = self._clock()
        changes = PollChanges()
        futures: list[asyncio.Future] = []
        accepted = 0
        rejected: list[int] = []
        for records in polled.values():
            for rec in records:
                result = process_batch(rec.value or b"", self._registry, self.state, now, self._config)
                changes.note(result.accepted, result.rejected, self.state)
                for r in result.accepted:
                    futures.append(await self._producer.send(topics.TELEMETRY_READINGS, r.plant_id, r,
                                                             topic=self.readings_topic))
                for j in result.rejected:
                    key = j.plant_id or "unknown"
                    futures.append(await self._producer.send(topics.TELEMETRY_REJECTED, key, j,
                                                             topic=self.rejected_topic))
                accepted += len(result.accepted)
                rejected.extend(j.reason for j in result.rejected)
                if rec.timestamp and rec.timestamp > 0:
                    LAG.set(max(0.0, now.timestamp() - rec.timestamp / 1000))
        await asyncio.gather(*futures)
        offsets = {tp: records[-1].offset + 1 for tp, records in polled.items() if records}
        await self._store.save(self.state, changes, self.raw_topic, {tp.partition: o for tp, o in offsets.items()},
                               now)
        await self._consumer.commit(offsets)
        BATCHES.inc(sum(len(r) for r in polled.values()))
        READINGS_ACCEPTED.inc(accepted)
        for reason in rejected:
            READINGS_REJECTED.labels(_REASONS.get(reason, "unspecified")).inc()
        self.processed += sum(len(r) for r in polled.values())
