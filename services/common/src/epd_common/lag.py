"""Kafka consumer lag for every consuming service, as one shared metric with bounded labels.

``epd_consumer_lag_messages{component,topic,partition}`` is the partition's high watermark minus the
consumer's position (what is fetched but not yet processed is counted as lag too, since the
position only moves when the service asks for more); ``epd_consumer_committed_offset`` is the
group's committed offset. Labels: the component (a fixed service name), topics and partitions of
the consumer's own assignment; series of partitions that move to another member are removed.

``ConsumerLag.maybe_update()`` is cheap to call after every batch: it refreshes at most every
``interval_s`` (the committed offset is a coordinator round trip) and never raises (metrics must
not stop a consumer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import Gauge

from epd_common.errors import CommonError
from epd_common.lifecycle import log_task_stacks

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "epd_consumer_lag_messages",
    "High watermark minus consumer position, per assigned partition",
    ["component", "topic", "partition"],
)
COMMITTED_OFFSET = Gauge(
    "epd_consumer_committed_offset",
    "Committed offset of the consumer group, per partition",
    ["component", "topic", "partition"],
)


def lag(highwater: int | None, position: int | None) -> int | None:
    """Messages behind: None when either end is not known yet (no fetch or no position so far)."""
    if highwater is None or position is None:
        return None
    return max(0, highwater - position)


class ConsumerLag:
    def __init__(
        self, component: str, consumer: Any, interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.component, self._consumer, self._interval, self._clock = component, consumer, interval_s, clock
        self._next = 0.0
        self._exported: set[tuple[str, str]] = set()

    async def maybe_update(self) -> None:
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self._interval
        try:
            await self.update()
        except Exception as exc:  # never stop the consumer for a metric
            log.debug("consumer lag update failed: %s", exc)

    async def update(self) -> None:
        assigned = set(self._consumer.assignment())
        seen: set[tuple[str, str]] = set()
        for tp in sorted(assigned, key=lambda t: (t.topic, t.partition)):
            labels = (tp.topic, str(tp.partition))
            seen.add(labels)
            position = await self._consumer.position(tp)
            behind = lag(self._consumer.highwater(tp), position)
            if behind is not None:
                CONSUMER_LAG.labels(self.component, *labels).set(behind)
            committed = await self._consumer.committed(tp)
            if committed is not None:
                COMMITTED_OFFSET.labels(self.component, *labels).set(committed)
        for labels in self._exported - seen:  # partitions revoked since the last update
            for gauge in (CONSUMER_LAG, COMMITTED_OFFSET):
                try:
                    gauge.remove(self.component, *labels)
                except KeyError:
                    pass
        self._exported = seen

    def snapshot(self) -> Mapping[tuple[str, str], float]:
        """The exported lag per (topic, partition) of this component (for tests and logs)."""
        return {labels: CONSUMER_LAG.labels(self.component, *labels)._value.get() for labels in self._exported}


class ConsumerStalled(CommonError):
    """Records wait on the consumer's partitions and none has arrived for too long."""


class StallWatch:
    """A consumer's liveness: records are known to wait on its assigned partitions (high watermark
    above its position) and no poll has brought one for `stall_s` seconds.

    A full-size scale run once found ingest polling and getting nothing for minutes after a broker
    came back, its partitions still assigned and thousands of records behind, until it was restarted;
    nothing failed, so nothing restarted it. `check` turns that into a failure: it logs where every
    task waits (`epd_common.lifecycle.log_task_stacks`, the evidence for the client library's hang)
    and raises, so the service exits non-zero and its supervisor restarts it; the saved state and
    offsets replay what was not saved. An idle consumer, one with nothing assigned, or one whose
    positions are not known yet is never stalled."""

    def __init__(
        self, component: str, consumer: Any, stall_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.component, self._consumer, self._stall_s, self._clock = component, consumer, stall_s, clock
        self._last = clock()

    def progress(self) -> None:
        """A poll brought records."""
        self._last = self._clock()

    async def check(self) -> None:
        """After a poll that brought nothing: raise ConsumerStalled when records have waited `stall_s`."""
        if self._clock() - self._last < self._stall_s:
            return
        waiting = {}
        for tp in self._consumer.assignment():
            try:
                position = await asyncio.wait_for(self._consumer.position(tp), 1.0)
            except Exception:  # not known (a reset in progress): not counted
                continue
            behind = lag(self._consumer.highwater(tp), position)
            if behind:
                waiting[f"{tp.topic}/{tp.partition}"] = behind
        if not waiting:
            self.progress()  # nothing to do is not a stall
            return
        log_task_stacks()
        raise ConsumerStalled(
            f"{self.component}: {sum(waiting.values())} records wait on {len(waiting)} partitions "
            f"({dict(sorted(waiting.items())[:5])}...) and no poll brought one for {self._stall_s:.0f} s; "
            "exiting so the supervisor restarts the consumer"
        )
