"""Idempotent duplicate detection with bounded memory.

Readings (same plant, meter and observed_at): per meter, a high-water mark (latest accepted
timestamp) and the set of accepted timestamps within `window` of it. A timestamp in the set is a
DUPLICATE. A timestamp older than the meter's floor (high-water mark - window, or the oldest
timestamp evicted by the per-meter cap) cannot be proven new, so it is refused as TOO_LATE rather
than risk counting it twice: memory is bounded by window x rate (and by `max_per_meter`), and the
price is that data later than the window is refused with a reason, never double counted. Set the
window at least as long as ingest's lateness bound.

Batches: an LRU of recent batch ids (at most `max_batch_ids`). It is a fast path for a resent
batch; after eviction the per-reading check above still catches every reading in it.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class Seen(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    BEYOND_WINDOW = "beyond_window"


@dataclass
class MeterWindow:
    """One meter's accepted timestamps within the window, and its floor."""

    stamps: list[int] = field(default_factory=list)  # sorted epoch nanoseconds
    floor: int | None = None  # anything below is refused

    def check(self, ts_ns: int) -> Seen:
        if self.floor is not None and ts_ns < self.floor:
            return Seen.BEYOND_WINDOW
        stamps = self.stamps
        if not stamps or ts_ns > stamps[-1]:  # the usual case: past the high-water mark
            return Seen.NEW
        i = bisect.bisect_left(stamps, ts_ns)
        return Seen.DUPLICATE if stamps[i] == ts_ns else Seen.NEW

    def record(self, ts_ns: int, window_ns: int, max_stamps: int) -> None:
        stamps = self.stamps
        if not stamps or ts_ns > stamps[-1]:
            stamps.append(ts_ns)  # the usual case: readings arrive in time order
        else:
            bisect.insort(stamps, ts_ns)
        cutoff = stamps[-1] - window_ns
        floor = cutoff if self.floor is None or cutoff > self.floor else self.floor
        if stamps[0] < cutoff or len(stamps) > max_stamps:  # evict (rare: once per stamp at most)
            drop = max(bisect.bisect_left(stamps, cutoff), len(stamps) - max_stamps)
            floor = max(floor, stamps[drop - 1] + 1)
            del stamps[:drop]
        self.floor = floor


@dataclass
class DedupeState:
    window: timedelta = timedelta(days=7)
    max_per_meter: int = 50_000
    max_batch_ids: int = 100_000
    _meters: dict[tuple[str, str], MeterWindow] = field(default_factory=dict, repr=False)
    _batches: OrderedDict[str, None] = field(default_factory=OrderedDict, repr=False)
    _window_ns: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._window_ns = int(self.window.total_seconds() * 1_000_000_000)

    def check_reading(self, plant_id: str, meter_id: str, ts_ns: int) -> Seen:
        w = self._meters.get((plant_id, meter_id))
        return Seen.NEW if w is None else w.check(ts_ns)

    def meter(self, plant_id: str, meter_id: str) -> MeterWindow:
        """The meter's window (empty for a meter not seen yet): checking and recording through it is
        the same as through `check_reading` and `record_reading` (the pipeline holds one per meter of
        a batch instead of looking it up per reading)."""
        w = self._meters.get((plant_id, meter_id))
        if w is None:
            w = self._meters[(plant_id, meter_id)] = MeterWindow()
        return w

    def record_in(self, window: MeterWindow, ts_ns: int) -> None:
        window.record(ts_ns, self._window_ns, self.max_per_meter)

    def high_water_ns(self, plant_id: str, meter_id: str) -> int | None:
        w = self._meters.get((plant_id, meter_id))
        return w.stamps[-1] if w and w.stamps else None

    def record_reading(self, plant_id: str, meter_id: str, ts_ns: int) -> None:
        self.meter(plant_id, meter_id).record(ts_ns, self._window_ns, self.max_per_meter)

    def batch_seen(self, batch_id: str) -> bool:
        if batch_id in self._batches:
            self._batches.move_to_end(batch_id)
            return True
        return False

    def record_batch(self, batch_id: str) -> None:
        self._batches[batch_id] = None
        self._batches.move_to_end(batch_id)
        while len(self._batches) > self.max_batch_ids:
            self._batches.popitem(last=False)

    def floor(self, plant_id: str, meter_id: str) -> int | None:
        """The meter's floor (None for a meter never seen), for persisting the state."""
        w = self._meters.get((plant_id, meter_id))
        return None if w is None else w.floor

    def meter_snapshot(self, plant_id: str, meter_id: str) -> tuple[list[int], int | None]:
        """(accepted timestamps in the window, floor) of one meter, for persisting the state."""
        w = self._meters.get((plant_id, meter_id))
        return ([], None) if w is None else (list(w.stamps), w.floor)

    def restore_meter(self, plant_id: str, meter_id: str, stamps: list[int], floor: int | None) -> None:
        """Put back a meter's window saved by `meter_snapshot` (stamps below the floor are dropped, a
        stamp given twice is kept once)."""
        kept = sorted({s for s in stamps if floor is None or s >= floor})
        self._meters[(plant_id, meter_id)] = MeterWindow(kept, floor)

    def tracked_readings(self) -> int:
        return sum(len(w.stamps) for w in self._meters.values())
