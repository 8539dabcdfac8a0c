"""The processor's store over a faust table, with the changelog partition chosen explicitly.

`table[key] = value` takes the changelog partition from faust's current event, which a batch
(`take_events`) does not have in the agent's task and which may belong to another plant's
partition anyway. The processor names the source partition of each plant's writes
(`select_partition`, called before them), so the changelog stays co-partitioned with the readings
topic and a partition's writes stay in order (faust recovers a table partition from its changelog
partition). Reads go to the in-memory store, which faust fills from the changelog at start.

Changelog writes are queued in order and sent by `durable()` straight to faust's producer, with the
table's own serializers (the bytes faust would write); faust's `send_soon` path (buffer task,
per-message bookkeeping) cost several microseconds per reading. The memory store keeps no
persisted offsets, so faust's changelog callback had nothing to do.

`durable()` sends the queued writes and waits until every one is acknowledged by the broker. The
agent awaits it at the end of each batch, so a batch's state (and the applied offsets in it) is in
the changelog before the next batch starts; a failed write fails the batch, which is read again.
(When faust still sent these writes itself, its commit could pass writes left in its buffer:
`ProducerBuffer.flush_atmost` gives up after 0.1 s without progress; a SIGKILL then lost them.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import RecordMetadata

Ack = Awaitable[RecordMetadata]  # resolves when the broker acknowledged the write
# send(partition, key, value) -> the broker's acknowledgement (value None: a deletion)
Send = Callable[[int, str, Any], Awaitable[Ack]]


def changelog_sender(app: faust.App, table: faust.Table) -> Send:
    """Send to the table's changelog through faust's producer, serialized as faust does."""
    topic = table.changelog_topic.get_topic_name()
    dumps_key, dumps_value = app.serializers.dumps_key, app.serializers.dumps_value

    async def send(partition: int, key: str, value: Any) -> Ack:
        return await app.producer.send(
            topic,
            dumps_key(None, key, serializer=table.key_serializer),
            None if value is None else dumps_value(None, value, serializer=table.value_serializer),
            partition,
            None,
            None,
        )

    return send


class TableStore:
    def __init__(self, table: faust.Table, send: Send) -> None:
        self.table = table
        self.partition: int | None = None
        self._send = send
        self._queued: list[tuple[int, str, Any]] = []  # changelog writes not yet sent, in order

    def select_partition(self, partition: int) -> None:
        self.partition = partition

    def _partition(self) -> int:
        if self.partition is None:
            raise RuntimeError("no changelog partition selected")  # a processor bug, not data
        return self.partition

    def get(self, key: str, default: Any = None) -> Any:
        return self.table.data.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.table.data

    def __setitem__(self, key: str, value: Any) -> None:
        self._queued.append((self._partition(), key, value))
        self.table.data[key] = value

    def __delitem__(self, key: str) -> None:
        self._queued.append((self._partition(), key, None))
        del self.table.data[key]

    async def durable(self) -> None:
        """Send every queued changelog write, in order, and wait for the broker's acknowledgement
        of each (raises if one failed)."""
        queued, self._queued = self._queued, []
        acks = [await self._send(partition, key, value) for partition, key, value in queued]
        for ack in acks:
            await ack
