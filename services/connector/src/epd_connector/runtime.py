"""Connector runtime: sources submit RawReadings; they are batched per plant, signed and spooled.

A batch is written to the durable spool before anything sends it (sender.py); the sender removes
it only after the broker's ack. All spool access runs on ONE worker thread (sqlite3 connections
are not safe to share across threads, and the fsync must not block the event loop).
A full spool applies back-pressure: `submit` waits until the sender frees space.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from epd.v1 import telemetry_pb2
from epd_connector import metrics
from epd_connector.batching import Batcher
from epd_connector.config import MeterConfig, PlantConfig, ReadingKindName
from epd_connector.keys import KeyFile
from epd_connector.signing import sign_batch
from epd_connector.spool import Spool, SpoolFull

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECTOR_VERSION = "epd-connector/0.1.0"


class ConnectorRuntime:
    def __init__(
        self,
        plant: PlantConfig,
        key: KeyFile,
        spool: Spool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.plant = plant
        self._key = key
        self.spool = spool
        self._clock = clock
        self._exec = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._lock = asyncio.Lock()
        self.spooled = asyncio.Event()
        last = spool.last_sequence(plant.plant_id)
        self.batcher = Batcher(
            plant.plant_id,
            plant.batching.max_readings,
            plant.batching.max_age_seconds,
            CONNECTOR_VERSION,
            next_sequence=0 if last is None else last + 1,
            stream_id=spool.stream_id,
        )
        self._meters = {m.meter_id: m for m in plant.meters}

    async def spool_call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._exec, fn, *args)

    def meter(self, meter_id: str) -> MeterConfig | None:
        return self._meters.get(meter_id)

    def reading(
        self,
        meter: MeterConfig,
        value: Decimal | str,
        observed_at: datetime,
        source_ref: str,
        quality: telemetry_pb2.ReadingQuality = telemetry_pb2.READING_QUALITY_GOOD,
    ) -> telemetry_pb2.RawReading:
        """A RawReading for a configured meter: unit and kind come from the plant config."""
        raw = telemetry_pb2.RawReading(
            meter_id=meter.meter_id,
            value=str(value),
            unit=meter.unit,
            quality=quality,
            source_ref=source_ref[:256],
            kind=telemetry_pb2.READING_KIND_COUNTER
            if meter.kind is ReadingKindName.COUNTER
            else telemetry_pb2.READING_KIND_INTERVAL,
        )
        raw.observed_at.FromDatetime(
            observed_at.astimezone(UTC).replace(tzinfo=None) if observed_at.tzinfo else observed_at
        )
        return raw

    async def submit(self, readings: Iterable[telemetry_pb2.RawReading], source: str) -> None:
        """Batch the readings; batches closed by this call are signed and durably spooled before return."""
        async with self._lock:
            closed: list[telemetry_pb2.TelemetryBatch] = []
            n = 0
            for r in readings:
                closed.extend(self.batcher.add(r, self._clock()))
                n += 1
            metrics.READINGS_RECEIVED.labels(source).inc(n)
            await self._spool(closed)

    async def flush(self) -> None:
        """Close and spool the open batch (checkpoints, shutdown)."""
        async with self._lock:
            await self._spool(self.batcher.flush(self._clock()))

    async def run_timer(self, stop: asyncio.Event) -> None:
        """Close batches on their time bound while sources are quiet."""
        while not stop.is_set():
            async with self._lock:
                now = self._clock()
                await self._spool(self.batcher.poll(now))
                due = self.batcher.seconds_until_due(now)
            wait = 0.5 if due is None else min(max(due, 0.01), 0.5)
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                pass

    async def _spool(self, batches: list[telemetry_pb2.TelemetryBatch]) -> None:
        for batch in batches:
            signing = self._key.current()
            signed = sign_batch(batch, signing.private_key, signing.key_id)
            delay = 0.2
            while True:
                try:
                    await self.spool_call(self.spool.append, signed)
                    break
                except SpoolFull:
                    metrics.SPOOL_FULL.inc()
                    log.warning("spool full; holding batch %s until the sender frees space", batch.batch_id)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
            metrics.BATCHES_SPOOLED.inc()
            self.spooled.set()

    async def update_gauges(self) -> None:
        depth, age, fill = await self.spool_call(
            lambda: (self.spool.depth(), self.spool.oldest_age_seconds(), self.spool.fill_ratio())
        )
        metrics.SPOOL_DEPTH.set(depth)
        metrics.SPOOL_AGE.set(age)
        metrics.SPOOL_FILL.set(fill)
        metrics.SPOOL_ALARM.set(1 if fill >= self.plant.spool.alarm_fill_ratio else 0)

    def close(self) -> None:
        self._exec.submit(self.spool.close).result()
        self._exec.shutdown(wait=True)
