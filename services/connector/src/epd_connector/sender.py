"""Sender: spool -> idempotent producer -> broker ack -> spool.ack, surviving broker outages.

Up to `max_in_flight` batches are pipelined; acked batches are removed from the spool in spool
order, and only the acked prefix: everything from the first failure is resent (same batch ids, so
ingest drops a batch that had reached the broker after all). On any failure the producer is closed
and rebuilt after an exponential backoff, since an idempotent producer that timed out may be stuck
on a sequence gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from epd_common import topics
from epd_common.kafka import TopicProducer
from epd_connector import metrics
from epd_connector.runtime import ConnectorRuntime

log = logging.getLogger(__name__)


class Sender:
    def __init__(
        self,
        runtime: ConnectorRuntime,
        producer_factory: Callable[[], AIOKafkaProducer],
        *,
        prefix: str = "",
        max_in_flight: int = 50,
        ack_timeout_s: float = 60.0,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._rt = runtime
        self._factory = producer_factory
        self._topic = topics.TELEMETRY_RAW.topic(prefix)
        self._max_in_flight = max_in_flight
        self._ack_timeout_s = ack_timeout_s
        self._max_backoff_s = max_backoff_s
        self._producer: AIOKafkaProducer | None = None
        self.sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.25
        while True:
            await self._rt.update_gauges()
            pending = await self._rt.spool_call(self._rt.spool.pending, self._max_in_flight)
            if not pending:
                if stop.is_set():
                    break
                self._rt.spooled.clear()
                try:
                    await asyncio.wait_for(self._rt.spooled.wait(), 1.0)
                except TimeoutError:
                    pass
                continue
            if await self._send_round(pending):
                backoff = 0.25
                continue
            if stop.is_set():
                break  # whatever is left stays in the spool for the next start
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)
        await self._close_producer()
        await self._rt.update_gauges()

    async def _send_round(self, pending: list) -> bool:
        try:
            if self._producer is None:
                producer = self._factory()
                await producer.start()
                self._producer = producer
            tp = TopicProducer(self._producer, enqueue_timeout_s=10.0)
            futures = []
            for sb in pending:
                futures.append(await tp.send(topics.TELEMETRY_RAW, sb.signed.plant_id, sb.signed, topic=self._topic))
            results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), self._ack_timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            return await self._failed(exc)
        now = time.time()
        for sb, res in zip(pending, results, strict=True):
            if isinstance(res, BaseException):
                return await self._failed(res)
            await self._rt.spool_call(self._rt.spool.ack, sb.seq)
            metrics.BATCHES_SENT.inc()
            metrics.SEND_LATENCY.observe(max(0.0, now - sb.appended_at))
            self.sent += 1
        return True

    async def _failed(self, exc: BaseException) -> bool:
        metrics.SEND_FAILURES.inc()
        log.warning("send failed (%s: %s); batches stay spooled and are retried", type(exc).__name__, exc)
        await self._close_producer()
        return False

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await asyncio.wait_for(producer.stop(), 10)
            except Exception:  # a producer that cannot flush to a dead broker: drop it
                log.debug("producer stop failed", exc_info=True)
