"""No batch runs across a rebalance: revocation waits for the batch in flight, and no batch starts
until the new assignment's tables are recovered.

faust waits on revoke only for messages of topics with acks enabled (Consumer.wait_empty); the
readings topic has `acks=False` (app.py), so without this gate a batch in flight when partitions
are revoked goes on stepping readings and writing the state table while faust reassigns the
partitions and recovers the table from the changelog. Recovery (from the changelog's start, the
memory store persists no offset) then writes older values over the batch's newer ones in memory,
and a new owner may read a changelog that the old owner is still writing. A broker failure makes
this likely: the batch waits seconds for its changelog acknowledgements while the group
rebalances. Then the worker's next batch starts from a table that is not the changelog's, and its
windows carry the ids of windows already sent, with other figures.

- `close` (on revoke): no new batch may start; `idle` then returns once the open batch, if any, has
  ended (its state durable, or abandoned); faust reassigns only after the revoke signal returns.
- `open` (on rebalance complete: tables recovered, start offsets set).
- `begin` / `end` around each batch; `begin` refuses while closed: the agent drops those records,
  which are fetched again from the applied offsets once the partitions are assigned.
Pure asyncio, no faust.
"""

from __future__ import annotations

import asyncio


class RebalanceGate:
    def __init__(self) -> None:
        self._open = True
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def is_open(self) -> bool:
        return self._open

    def begin(self) -> bool:
        """Start a batch; False while partitions are revoked (the caller drops the batch's records)."""
        if not self._open:
            return False
        self._idle.clear()
        return True

    def end(self) -> None:
        self._idle.set()

    def close(self) -> None:
        self._open = False

    def open(self) -> None:
        self._open = True

    async def idle(self) -> None:
        """Return once no batch is open (at once if none is)."""
        await self._idle.wait()
