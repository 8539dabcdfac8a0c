"""What the broker holds from an offset of a source partition: the first record a consumer reading
the partition from there gets.

The consumer's steps (consumer_steps.py) are inferred from fetches that run in faust's consumer
thread while seeks come from the agent; a rewind seek can race a fetch already on its way, and then
a "step" is recorded over readings the consumer did hand out (faust dropped them behind its read
offset). Admitting such a step skipped those readings for good: a scale run with a worker and a
broker killed closed an hour with half its readings. So a step is admitted only when this probe,
a consumer of its own with nothing in flight, reads the same first offset from the expected one
(source_progress.py, Admission.STEP). Steps are rare (transaction markers, nothing for ingest's
idempotent producers), so one probe per step costs nothing measurable. Its consumer is started on
first use and stopped with the app (`stop_with`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode.types.signals import BaseSignalT

from epd_common.kafka import KafkaConnection, make_consumer


class OffsetProbe:
    def __init__(self, connection: KafkaConnection, topic: str, isolation_level: str) -> None:
        self.connection, self.topic, self.isolation_level = connection, topic, isolation_level
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def first_from(self, partition: int, offset: int, timeout_s: float = 15.0) -> int | None:
        """The offset of the first record a consumer reading `partition` from `offset` receives
        (None: none arrived within `timeout_s`)."""
        async with self._lock:
            if self._consumer is None:
                consumer = make_consumer(self.connection, None, isolation_level=self.isolation_level)
                await consumer.start()
                self._consumer = consumer
            tp = TopicPartition(self.topic, partition)
            self._consumer.assign([tp])
            self._consumer.seek(tp, offset)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while loop.time() < deadline:
                records = (await self._consumer.getmany(tp, timeout_ms=500, max_records=1)).get(tp)
                if records:
                    return records[0].offset
            return None

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


def stop_with(app: Any, probe: OffsetProbe) -> None:
    """Stop the probe's consumer when the faust app stops (its `on_before_shutdown` signal, sent once
    faust's own consumer has stopped), so a worker leaves no client of its own behind."""

    async def _stop_probe(sender: Any, /, *_: Any, signal: BaseSignalT[Any], **__: Any) -> None:
        await probe.stop()

    app.on_before_shutdown.connect(_stop_probe)
