"""The simulated plants' connectors: every plant sends one signed batch per simulated step (all its
meters' readings of that step) to the raw topic, keyed by plant, as the connector does. Plants are
spread over the step (plant i sends at i/N of it), like connectors that started at different times.

A phase is paced (`speed` simulated seconds per real second: the live load) or unpaced (a backlog
replayed as fast as the producer goes). The send log keeps, per plant, the event time of each batch
and when it was acknowledged, so the observer can date the reading that closed a window; per raw
partition, the cumulative readings at each offset, so a group's committed offset says how many
readings it has consumed."""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from .plants import Feed


@dataclass
class SendLog:
    event_s: dict[str, list[float]] = field(default_factory=dict)  # plant -> event time of each batch
    wall_s: dict[str, list[float]] = field(default_factory=dict)  # plant -> when it was acknowledged
    count: dict[str, list[int]] = field(default_factory=dict)  # plant -> readings of each batch
    offsets: dict[int, list[int]] = field(default_factory=dict)  # raw partition -> offsets, ascending
    cumulative: dict[int, list[int]] = field(default_factory=dict)  # raw partition -> readings up to it
    readings: int = 0
    batches: int = 0

    def record(self, plant: str, event_s: float, partition: int, offset: int, n: int, now: float) -> None:
        events, walls = self.event_s.setdefault(plant, []), self.wall_s.setdefault(plant, [])
        # acknowledgements of one plant arrive in order (one partition, one producer)
        events.append(event_s)
        walls.append(now)
        self.count.setdefault(plant, []).append(n)
        offs, cum = self.offsets.setdefault(partition, []), self.cumulative.setdefault(partition, [])
        offs.append(offset)
        cum.append((cum[-1] if cum else 0) + n)
        self.readings += n
        self.batches += 1

    def sent_at(self, plant: str, event_s: float) -> float | None:
        """When the plant's first batch at or after `event_s` (event time) was acknowledged."""
        events = self.event_s.get(plant, [])
        i = bisect.bisect_left(events, event_s)
        return self.wall_s[plant][i] if i < len(events) else None

    def readings_between(self, start: float, end: float) -> int:
        """Readings of the batches with event time in [start, end)."""
        total = 0
        for plant, events in self.event_s.items():
            lo, hi = bisect.bisect_left(events, start), bisect.bisect_left(events, end)
            total += sum(self.count[plant][lo:hi])
        return total

    def readings_before(self, committed: dict[int, int]) -> int:
        """Readings in raw records below each partition's committed offset (what a group consumed)."""
        total = 0
        for partition, offset in committed.items():
            offs = self.offsets.get(partition, [])
            i = bisect.bisect_left(offs, offset)
            total += self.cumulative[partition][i - 1] if i else 0
        return total


@dataclass
class Phase:
    name: str
    sim_start: dt.datetime
    sim_end: dt.datetime
    speed: float | None  # None: as fast as it goes


class Plants:
    """Every plant's feed with its next due step, in one heap (due time in simulated seconds)."""

    def __init__(self, feeds: Sequence[Feed], step: dt.timedelta) -> None:
        self.feeds = list(feeds)
        self._steps = [f.steps() for f in self.feeds]
        self._step = step.total_seconds()
        self._heap: list[tuple[float, int, float, list]] = []
        for i in range(len(self.feeds)):
            self._push(i)

    def _push(self, i: int) -> None:
        nxt = next(self._steps[i], None)
        if nxt is not None:
            at, readings = nxt
            event = at.timestamp()
            heapq.heappush(self._heap, (event + self._step * i / len(self.feeds), i, event, readings))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop(self) -> tuple[int, float, list]:
        _, i, event, readings = heapq.heappop(self._heap)
        self._push(i)
        return i, event, readings


async def run_phase(
    phase: Phase,
    plants: Plants,
    producer: AIOKafkaProducer,
    topic: str,
    log: SendLog,
    in_flight: int = 2000,
) -> tuple[float, float]:
    """Send every step due in the phase; returns (wall start, wall end) of the phase."""
    start_wall = time.time()
    sim0, end = phase.sim_start.timestamp(), phase.sim_end.timestamp()
    pending: set[asyncio.Future] = set()
    while (due := plants.next_due()) is not None and due < end:
        if phase.speed is not None:
            wait = start_wall + (due - sim0) / phase.speed - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, 0.5))
                continue
        i, event, readings = plants.pop()
        feed = plants.feeds[i]
        plant = feed.plant.plant_id
        value = feed.sign(readings, dt.datetime.now(dt.UTC))
        fut = await producer.send(topic, value, key=plant.encode())

        def acked(f: asyncio.Future, plant: str = plant, event: float = event, n: int = len(readings)) -> None:
            if not f.cancelled() and f.exception() is None:
                meta = f.result()
                log.record(plant, event, meta.partition, meta.offset, n, time.time())

        fut.add_done_callback(acked)
        pending.add(fut)
        if len(pending) >= in_flight:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for f in done:
                f.result()  # a send that failed after its retries ends the run
    if pending:
        for f in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(f, BaseException):
                raise f
    return start_wall, time.time()
