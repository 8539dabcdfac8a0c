"""Pipelined keyed sends of already-encoded records for the ingest service.

Every record goes out as its own Kafka record on the idempotent producer, and all acks of a poll
are awaited together (`flush`) before the poll's state and offsets are saved. Two costs of the
plain `producer.send(topic, value, key=key)` are paid once per key and poll instead of once per
record, because a poll yields many records with the same key (rejections of one plant; reading
batches of one plant once a poll's readings exceed one record):

- the partition: aiokafka's own DefaultPartitioner (murmur2 of the key, as the Java client) is
  asked once per (topic, key) and poll, so records land exactly where a keyed send would put
  them; partition counts are re-read from the producer's metadata at every poll;
- the acks: the futures are awaited one after the other (they resolve in send order per
  partition) instead of through `asyncio.gather`, which schedules a callback per future.

A send that fails before queueing with a retriable error (no leader while a broker restarts) is
retried with backoff up to `enqueue_timeout_s`, as `epd_common.kafka.TopicProducer.send` does;
nothing was queued then, so per-key order holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner


class PipelinedSender:
    def __init__(self, producer: AIOKafkaProducer, enqueue_timeout_s: float = 120.0) -> None:
        self._producer = producer
        self._enqueue_timeout_s = enqueue_timeout_s
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._by_key: dict[tuple[str, bytes], int] = {}
        self._pending: list[asyncio.Future] = []

    async def begin(self, topics: Iterable[str]) -> None:
        """Read the topics' partitions (waits for metadata) and forget last poll's key placement."""
        self._by_key.clear()
        for topic in topics:
            self._partitions[topic] = sorted(await self._producer.partitions_for(topic))

    def partition(self, topic: str, key: bytes) -> int:
        p = self._by_key.get((topic, key))
        if p is None:
            parts = self._partitions[topic]
            p = self._by_key[(topic, key)] = self._partitioner(key, parts, parts)
        return p

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue one record; its ack is awaited by the next `flush`."""
        partition = self.partition(topic, key)
        try:
            fut = await self._producer.send(topic, value, key=key, partition=partition)
        except KafkaError as exc:
            if not exc.retriable:
                raise
            fut = await self._retry(topic, key, value, partition)
        self._pending.append(fut)

    async def _retry(self, topic: str, key: bytes, value: bytes, partition: int) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._enqueue_timeout_s
        delay = 0.1
        while True:
            await asyncio.sleep(delay)
            try:
                return await self._producer.send(topic, value, key=key, partition=partition)
            except KafkaError as exc:
                if not exc.retriable or loop.time() + delay > deadline:
                    raise
                delay = min(delay * 2, 2.0)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Wait for every queued record's ack; raises the first delivery error (after which the
        caller must not save its state: the poll is reprocessed after a restart)."""
        pending, self._pending = self._pending, []
        for fut in pending:
            await fut
