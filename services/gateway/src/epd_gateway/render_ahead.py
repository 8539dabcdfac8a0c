"""Render ahead: a version's records and documents are rendered, signed and stored when its inputs
change (it is created, changes status, its owner or product is edited), not when someone first asks.

The database stamps every change of a version's inputs (gateway_inputs, migration 0015). The loop
looks at the stamps above the last one it has seen, less a lookback: a transaction that drew a stamp
may commit after one that drew a later stamp, so a short look back finds it. While no newer stamp
appears, a step is one index probe, and the lookback is read again every IDLE_LOOK_S. A version whose current
stamp already has a stored record (another replica rendered it) is skipped in SQL; one this process
looked at for that stamp (and found nothing to store: a draft, a version neither viewer may see) is
skipped here. Serving never depends on this loop: a stored record or document is served only while
its stamp is current, and a first read renders whatever is missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

import asyncpg

from epd_gateway.catalogue import Catalogue
from epd_gateway.deps import KeySource

log = logging.getLogger(__name__)

LOOKBACK = 10_000  # stamps below the highest seen that are looked at again
IDLE_LOOK_S = 30.0  # while no new stamp appears, how often the lookback is read anyway (late commits)
NEW_PER_STEP = 1_000  # at least this many new stamps a step when they exist
BATCH = 200  # versions rendered per read-model query

# A version's current stamp above $1 with no stored record under that stamp and key ($2). Within the
# lookback there are at most LOOKBACK rows (one current stamp per version), so the limit leaves room for
# NEW_PER_STEP new ones: every step moves on.
_CANDIDATES = """
    SELECT i.pf_id, i.stamp FROM gateway_inputs i
    WHERE i.stamp > $1 AND NOT EXISTS (
        SELECT 1 FROM gateway_records g WHERE g.pf_id = i.pf_id AND g.stamp = i.stamp AND g.kid = $2)
    ORDER BY i.stamp LIMIT $3"""


class RenderAhead:
    def __init__(
        self, catalogue: Catalogue, keys: KeySource, pool: asyncpg.Pool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.catalogue, self.keys, self.pool, self.clock = catalogue, keys, pool, clock
        self.highest: int | None = None  # the highest stamp looked at
        self.looked: dict[uuid.UUID, int] = {}  # version -> the stamp it was looked at for (within the lookback)
        self.kid = ""  # the key of the last look (a new key: every record is missing again)
        self.looked_at = float("-inf")  # when the lookback was last read

    async def step(self) -> tuple[int, bool]:
        """Render what changed since the last step: (records and documents stored, more waiting)."""
        ring = await self.keys.get()
        newest = await self.pool.fetchval("SELECT coalesce(max(stamp), 0) FROM gateway_inputs")
        if self.highest is None:  # from the changes just before this process started
            self.highest = newest
        elif newest <= self.highest and ring.kid == self.kid and self.clock() - self.looked_at < IDLE_LOOK_S:
            return 0, False  # nothing new (an index probe); the lookback is read again every IDLE_LOOK_S
        self.kid, self.looked_at = ring.kid, self.clock()
        rows = await self.pool.fetch(_CANDIDATES, self.highest - LOOKBACK, ring.kid, LOOKBACK + NEW_PER_STEP)
        todo = [(r["pf_id"], r["stamp"]) for r in rows if self.looked.get(r["pf_id"]) != r["stamp"]]
        stored = 0
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            stored += await self.catalogue.render_ahead([pf_id for pf_id, _ in batch], ring)
            self.looked.update(batch)
        if rows:
            self.highest = max(self.highest, rows[-1]["stamp"])
        floor = self.highest - LOOKBACK
        self.looked = {pf_id: stamp for pf_id, stamp in self.looked.items() if stamp > floor}
        return stored, len(rows) == LOOKBACK + NEW_PER_STEP


async def run(render: RenderAhead, every_s: float) -> None:
    """Step, then wait `every_s` (at once while more is waiting); a failed step is logged and retried."""
    while True:
        more = False
        try:
            _, more = await render.step()
        except asyncio.CancelledError:
            raise
        except Exception:  # the next step looks again; reads render what is missing meanwhile
            log.exception("rendering records ahead failed")
        if not more:
            await asyncio.sleep(every_s)
