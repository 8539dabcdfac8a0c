"""The processor's store over a faust table, with the changelog partition chosen explicitly.

`table[key] = value` takes the changelog partition from faust's current event, which a batch
(`take_events`) does not have in the agent's task and which may belong to another plant's
partition anyway. The processor names the source partition of each plant's writes
(`select_partition`, called before them), so the changelog stays co-partitioned with the readings
topic and a partition's writes stay in order (faust recovers a table partition from its changelog
partition). Reads go to the in-memory store, which faust fills from the changelog at start.

`durable()` waits until every changelog write made so far is acknowledged by the broker. The agent
awaits it before it hands a batch back to faust (which then acks the batch's events): faust's own
commit does NOT guarantee it. Its `Producer.flush()` drains the `send_soon` buffer only while
messages keep leaving it (`ProducerBuffer.flush_atmost` gives up after 0.1 s without one) and does
not count the message its drain task is sending, so the consumer offset could be committed past
changelog writes still in the buffer; a SIGKILL then lost them while the readings behind them were
never consumed again (state missing readings: final windows with the same ids and other bytes).
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust


class TableStore:
    def __init__(self, table: faust.Table) -> None:
        self.table = table
        self.partition: int | None = None
        self._unacked: list[asyncio.Future] = []  # changelog writes not yet acknowledged

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
        self._unacked.append(self.table.send_changelog(self._partition(), key, value))
        self.table.data[key] = value

    def __delitem__(self, key: str) -> None:
        self._unacked.append(self.table.send_changelog(self._partition(), key, None, value_serializer="raw"))
        del self.table.data[key]

    async def durable(self) -> None:
        """Wait for the broker's acknowledgement of every changelog write so far (raises if one failed)."""
        unacked, self._unacked = self._unacked, []
        for future in unacked:
            await future
