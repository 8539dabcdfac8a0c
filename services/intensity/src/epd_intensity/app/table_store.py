"""The processor's store over a faust table, with the changelog partition chosen explicitly.

`table[key] = value` takes the changelog partition from faust's current event, which a batch
(`take_events`) does not have in the agent's task and which may belong to another plant's
partition anyway. The processor names the source partition of each plant's writes
(`select_partition`, called before them), so the changelog stays co-partitioned with the readings
topic and a partition's writes stay in order (faust recovers a table partition from its changelog
partition). Reads go to the in-memory store, which faust fills from the changelog at start.
"""

from __future__ import annotations

from typing import Any

import faust


class TableStore:
    def __init__(self, table: faust.Table) -> None:
        self.table = table
        self.partition: int | None = None

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
        self.table.send_changelog(self._partition(), key, value)
        self.table.data[key] = value

    def __delitem__(self, key: str) -> None:
        self.table.send_changelog(self._partition(), key, None, value_serializer="raw")
        del self.table.data[key]
