"""Reference computation without faust: the whole stream in arrival order, in memory.

Tests compare the faust app against it (same window ids, same decimals). It uses the pure core
for the arithmetic and keeps its own straightforward orchestration of closing and revising windows:
- an hourly window is emitted (revision 0) when its plant's watermark reaches its end, and again
  (revision + 1) for each late reading accepted within the allowed lateness;
- a daily window and the trailing 30-day window ending with that day are emitted when the
  watermark reaches the day's end (for days with at least one hourly window), and revised when any
  hourly window inside them is revised; rolling windows already emitted that contain a revised
  hour are revised too;
- `computed_at` is the plant watermark at emission, so replays are byte-identical.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from epd.v1 import intensity_pb2, telemetry_pb2
from epd_intensity.core import (
    Bucket,
    Missing,
    Outcome,
    Refused,
    WatermarkPolicy,
    Watermarks,
    WindowTotals,
    admit,
    build_window,
    compute_totals,
    day_start,
    derive,
    derived_windows_of_hour,
)
from epd_intensity.core.ids import DAY, HOUR
from epd_intensity.core.rolling import DAILY, ROLLING_30D, rolling_start_for_day
from epd_intensity.factors.model import FactorLibrary, FactorSet
from epd_intensity.processes import ProcessConfig

HOURLY = intensity_pb2.WINDOW_SIZE_HOURLY
_NO_SET = FactorSet("", datetime(1970, 1, 1, tzinfo=UTC), "", 0, (), {})
WindowKey = tuple[str, intensity_pb2.WindowSize, datetime]  # (process, size, start)


@dataclass
class OracleResult:
    history: list[intensity_pb2.IntensityWindow] = field(default_factory=list)  # every revision, in emission order
    latest: dict[WindowKey, intensity_pb2.IntensityWindow] = field(default_factory=dict)
    corrections: list[tuple[telemetry_pb2.Reading, Outcome]] = field(default_factory=list)  # too late / future
    refused: list[tuple[telemetry_pb2.Reading, Refused]] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    missing: list[Missing] = field(default_factory=list)

    @property
    def final(self) -> list[intensity_pb2.IntensityWindow]:
        """Latest revision per (process, size, window start), sorted by that key."""
        return [self.latest[k] for k in sorted(self.latest)]


class _Run:
    def __init__(
        self,
        processes: Mapping[str, ProcessConfig],
        factors: FactorSet | FactorLibrary,
        lateness: timedelta | None,
        policy: WatermarkPolicy,
    ) -> None:
        self.processes, self.library = processes, FactorLibrary.of(factors)
        self.lateness, self.policy = lateness, policy
        self.result = OracleResult()
        self.marks = Watermarks()
        self.buckets: dict[tuple[str, datetime], Bucket] = {}
        self.open: set[tuple[str, datetime]] = set()
        self.hourly: dict[str, dict[datetime, WindowTotals]] = {}
        self.revisions: dict[WindowKey, int] = {}
        self.pending_days: set[tuple[str, datetime]] = set()

    def reading(self, reading: telemetry_pb2.Reading) -> None:
        admitted = admit(reading, self.processes)
        if isinstance(admitted, Refused):
            self.result.outcomes[admitted.outcome.value] += 1
            self.result.refused.append((reading, admitted))
            return
        process = admitted.process
        plant = process.plant_id
        lateness = self.lateness if self.lateness is not None else process.allowed_lateness
        decision = self.policy.decide(admitted.event_time, self.marks.get(plant), lateness, admitted.ingested_at)
        if decision in (Outcome.TOO_LATE, Outcome.FUTURE):
            self.result.outcomes[decision.value] += 1
            self.result.corrections.append((reading, decision))
            return
        key = (process.process_id, Bucket.for_reading(admitted).start)
        bucket = self.buckets.setdefault(key, Bucket(*key))
        if not bucket.add(admitted):
            self.result.outcomes[Outcome.DUPLICATE.value] += 1
            return
        self.result.outcomes[decision.value] += 1
        if decision == Outcome.LATE_REVISION:
            watermark = self.marks.get(plant)
            assert watermark is not None  # the policy decides LATE_REVISION only against a watermark
            self._emit_hour(bucket, watermark)
        else:
            self.open.add(key)
        before, after = self.marks.advance(plant, admitted.event_time)
        if after != before or decision == Outcome.LATE_REVISION:
            self._close(plant, after)

    def _emit(self, key: WindowKey, make: Callable[[int], intensity_pb2.IntensityWindow | None]) -> None:
        revision = self.revisions.get(key, 0)
        window = make(revision)
        if window is None:
            return
        self.revisions[key] = revision + 1
        self.result.history.append(window)
        self.result.latest[key] = window

    def _emit_hour(self, bucket: Bucket, watermark: datetime) -> None:
        process = self.processes[bucket.process_id]
        factor_set = self.library.for_window(bucket.start) or _NO_SET
        totals, missing = compute_totals(bucket, process, factor_set)
        self.result.missing.extend(missing)
        if missing:
            self.result.outcomes["factor_missing"] += len(missing)
        self.hourly.setdefault(process.process_id, {})[bucket.start] = totals
        self._emit(
            (process.process_id, HOURLY, bucket.start),
            lambda rev: build_window(totals, process, HOURLY, bucket.start, rev, watermark),
        )
        pid = process.process_id
        if (pid, DAILY, day_start(bucket.start)) in self.revisions:
            self._derived(pid, DAILY, day_start(bucket.start), watermark)
        else:
            self.pending_days.add((pid, day_start(bucket.start)))
        for size, start in derived_windows_of_hour(bucket.start):
            if size == ROLLING_30D and (pid, size, start) in self.revisions:
                self._derived(pid, size, start, watermark)

    def _derived(self, pid: str, size: intensity_pb2.WindowSize, start: datetime, watermark: datetime) -> None:
        process = self.processes[pid]
        self._emit((pid, size, start), lambda rev: derive(self.hourly[pid], process, size, start, rev, watermark))

    def _close(self, plant: str, watermark: datetime) -> None:
        due = sorted((s, p) for p, s in self.open if self.processes[p].plant_id == plant and s + HOUR <= watermark)
        for start, pid in due:
            self.open.discard((pid, start))
            self._emit_hour(self.buckets[(pid, start)], watermark)
        for pid, day in sorted(self.pending_days):
            if self.processes[pid].plant_id == plant and day + DAY <= watermark:
                self.pending_days.discard((pid, day))
                self._derived(pid, DAILY, day, watermark)
                rolling = rolling_start_for_day(day)
                if (pid, ROLLING_30D, rolling) not in self.revisions:
                    self._derived(pid, ROLLING_30D, rolling, watermark)

    def flush(self) -> None:
        """End of input: move each plant's watermark past its last day so everything closes."""
        ends: dict[str, datetime] = {}
        for pid, start in self.buckets:
            plant = self.processes[pid].plant_id
            ends[plant] = max(ends.get(plant, start), start)
        for plant, last in sorted(ends.items()):
            _, after = self.marks.advance(plant, day_start(last) + DAY)
            self._close(plant, after)


def compute_windows(
    readings: Iterable[telemetry_pb2.Reading],
    processes: Mapping[str, ProcessConfig],
    factors: FactorSet | FactorLibrary,
    lateness: timedelta | None = None,
    policy: WatermarkPolicy | None = None,
    flush: bool = False,
) -> OracleResult:
    """Process `readings` in arrival order. `lateness` overrides every process's allowed lateness;
    `flush` closes all windows at the end (as if the watermark passed the last day)."""
    run = _Run(processes, factors, lateness, policy or WatermarkPolicy())
    for reading in readings:
        run.reading(reading)
    if flush:
        run.flush()
    return run.result
