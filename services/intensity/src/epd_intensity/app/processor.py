"""The stateful step of the faust agent, over a key-value store (a faust table, or a dict in tests).

Same decisions as the oracle (oracle.py), per plant: watermark per plant, hourly buckets per
process, hourly emission when the watermark passes the hour's end, revision + 1 for a late reading
within the allowed lateness, daily and trailing 30-day windows at each day's close. What differs
is the state: only what can still change is kept (buckets until final, hourly totals of days that
can still be revised, then per-day sums and hourly Merkle roots for 30 days + lateness).

Crash safety without exactly-once: `handle` writes buckets and day entries first; the caller then
sends the step's windows and corrections and awaits their acknowledgements; `Step.commit` writes
the plant state LAST (it records the source offset applied), then drops final state. All keys live
in one table, so a restarted worker finds a prefix of these writes. A reading at or below the
applied offset is skipped; a later one is redone: its bucket already holding the reading from the
same source offset is a replay (not a duplicate), and every window is recomputed from the same
state with the same revision, so a resent window has the same id AND the same content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from epd.v1 import intensity_pb2, telemetry_pb2

from epd_intensity.core import (
    Bucket, Missing, Outcome, Refused, WatermarkPolicy, admit, build_window, combine, compute_totals,
    day_start, derive, derived_windows_of_hour, hour_start, merkle_root,
)
from epd_intensity.core.ids import DAY, HOUR, ROLLING, SIZE_SPANS
from epd_intensity.core.rolling import DAILY, ROLLING_30D, rolling_start_for_day
from epd_intensity.factors.model import FactorLibrary, FactorSet
from epd_intensity.processes import ProcessConfig

from .state import (
    DayState, PlantState, bucket_from_dict, bucket_key, bucket_to_dict, day_key, plant_key, totals_from_text,
    totals_to_text,
)

HOURLY = intensity_pb2.WINDOW_SIZE_HOURLY
REPLAYED = "replayed"  # at or below the plant's applied offset: already fully processed
_NO_SET = FactorSet("", datetime(1970, 1, 1, tzinfo=timezone.utc), "", 0, (), {})


@dataclass
class Step:
    outcome: str
    windows: list[intensity_pb2.IntensityWindow] = field(default_factory=list)
    correction: tuple[str, str] | None = None  # (outcome, detail) for the correction log
    missing: list[Missing] = field(default_factory=list)
    _commit: Callable[[], None] | None = None

    def commit(self) -> None:
        """Call after every window and correction of this step is acknowledged by the broker."""
        if self._commit is not None:
            self._commit()


class Processor:
    def __init__(self, processes: Mapping[str, ProcessConfig], factors: FactorSet | FactorLibrary,
                 store: MutableMapping[str, Any], lateness: timedelta | None = None,
                 policy: WatermarkPolicy | None = None) -> None:
        self.processes, self.library = processes, FactorLibrary.of(factors)
        self.store, self.lateness_override, self.policy = store, lateness, policy or WatermarkPolicy()
        self.reset()

    def reset(self) -> None:
        """Drop decoded caches (on rebalance: the table is the truth)."""
        self._plants: dict[str, PlantState] = {}
        self._buckets: dict[tuple[str, datetime], tuple[Bucket, dict[str, str]]] = {}
        self._days: dict[tuple[str, datetime], DayState] = {}

    def lateness(self, process_id: str) -> timedelta:
        return self.lateness_override if self.lateness_override is not None else self.processes[process_id].allowed_lateness

    # -- one reading -------------------------------------------------------------------------
    def handle(self, reading: telemetry_pb2.Reading, partition: int, offset: int) -> Step:
        admitted = admit(reading, self.processes)
        if isinstance(admitted, Refused):
            return Step(admitted.outcome.value, correction=(admitted.outcome.value, admitted.detail))
        process = admitted.process
        plant = self._plant(process.plant_id)
        applied = plant.offsets.get(partition)
        if applied is not None and offset <= applied:
            return Step(REPLAYED)
        decision = self.policy.decide(admitted.event_time, plant.watermark, self.lateness(process.process_id),
                                      admitted.ingested_at)
        if decision in (Outcome.TOO_LATE, Outcome.FUTURE):
            detail = f"event time {admitted.event_time.isoformat()} vs watermark {plant.watermark}"
            return Step(decision.value, correction=(decision.value, detail))
        key = (process.process_id, hour_start(admitted.event_time))
        bucket, sources = self._bucket(key)
        source = f"{partition}:{offset}"
        if admitted.reading_id in bucket.reading_hashes:
            if sources.get(admitted.reading_id) != source:
                return Step(Outcome.DUPLICATE.value)  # a resent reading: ignored, nothing moves
            # else: redoing a reading whose bucket write survived a crash but whose plant write did not
        else:
            bucket.add(admitted)
            sources[admitted.reading_id] = source
            self.store[bucket_key(*key)] = bucket_to_dict(bucket, sources)
            plant.buckets.add(key)
        step = Step(decision.value)
        if decision == Outcome.LATE_REVISION:
            self._emit_hour(plant, key, plant.watermark, step)
        else:
            plant.open.add(key)
        before = plant.watermark
        if before is None or admitted.event_time > before:
            plant.watermark = admitted.event_time
        if plant.watermark != before or decision == Outcome.LATE_REVISION:
            self._close(plant, plant.watermark, step)
        plant.offsets[partition] = offset
        step._commit = self._committer(process.plant_id, plant)
        return step

    # -- emission (mirrors oracle._Run) ---------------------------------------------------------
    def _emit(self, plant: PlantState, key: tuple[str, int, datetime], make, step: Step) -> None:  # noqa: ANN001
        revision = plant.revisions.get(key, 0)
        window = make(revision)
        if window is None:
            return
        plant.revisions[key] = revision + 1
        step.windows.append(window)

    def _emit_hour(self, plant: PlantState, key: tuple[str, datetime], watermark: datetime, step: Step) -> None:
        pid, hour = key
        process = self.processes[pid]
        bucket, _ = self._bucket(key)
        totals, missing = compute_totals(bucket, process, self.library.for_window(hour) or _NO_SET)
        step.missing.extend(missing)
        day = day_start(hour)
        day_state = self._day((pid, day))
        if day_state.compacted:  # cannot happen: a revisable hour lies in a revisable day
            raise RuntimeError(f"hour {hour} of {pid} is in a compacted day")
        day_state.hours[hour] = totals
        self.store[day_key(pid, day)] = day_state.to_dict()
        plant.days.add((pid, day))
        self._emit(plant, (pid, HOURLY, hour), lambda rev: build_window(totals, process, HOURLY, hour, rev, watermark), step)
        if (pid, DAILY, day) in plant.revisions:
            self._daily(plant, pid, day, watermark, step)
        else:
            plant.pending.add((pid, day))
        for size, start in derived_windows_of_hour(hour):
            if size == ROLLING_30D and (pid, size, start) in plant.revisions:
                self._rolling(plant, pid, start, watermark, step)

    def _daily(self, plant: PlantState, pid: str, day: datetime, watermark: datetime, step: Step) -> None:
        hours = self._day((pid, day)).hours
        self._emit(plant, (pid, DAILY, day),
                   lambda rev: derive(hours, self.processes[pid], DAILY, day, rev, watermark), step)

    def _rolling(self, plant: PlantState, pid: str, start: datetime, watermark: datetime, step: Step) -> None:
        """Exact 30-day sums from per-day sums; the Merkle root over every hourly root, as derive does."""
        sums, roots = [], []
        for i in range(ROLLING // DAY):
            day_state = self._day((pid, start + DAY * i), create=False)
            if day_state is None:
                continue
            if day_state.compacted:
                sums.append(totals_from_text(day_state.total))
            elif day_state.hours:
                sums.append(combine(day_state.hours.values()))
            roots.extend(day_state.hour_roots())

        def make(rev: int) -> intensity_pb2.IntensityWindow | None:
            if not sums:
                return None
            totals = combine(sums)
            totals.merkle_root = merkle_root(roots)
            return build_window(totals, self.processes[pid], ROLLING_30D, start, rev, watermark)

        self._emit(plant, (pid, ROLLING_30D, start), make, step)

    def _close(self, plant: PlantState, watermark: datetime, step: Step) -> None:
        for start, pid in sorted((s, p) for p, s in plant.open if s + HOUR <= watermark):
            plant.open.discard((pid, start))
            self._emit_hour(plant, (pid, start), watermark, step)
        for pid, day in sorted(plant.pending):
            if day + DAY <= watermark:
                plant.pending.discard((pid, day))
                self._daily(plant, pid, day, watermark, step)
                rolling = rolling_start_for_day(day)
                if (pid, ROLLING_30D, rolling) not in plant.revisions:
                    self._rolling(plant, pid, rolling, watermark, step)

    # -- state -------------------------------------------------------------------------------
    def _committer(self, plant_id: str, plant: PlantState) -> Callable[[], None]:
        def commit() -> None:
            drops, compactions = self._finalise(plant)
            self.store[plant_key(plant_id)] = plant.to_dict()  # the last write of the step
            for key, value in compactions:
                self.store[key] = value
            for key in drops:  # after the plant write: a crash here leaks a key, never loses one
                if key in self.store:
                    del self.store[key]
        return commit

    def _finalise(self, plant: PlantState) -> tuple[list[str], list[tuple[str, dict]]]:
        """Forget what can no longer change; returns table keys to delete and days to compact."""
        wm = plant.watermark
        drops: list[str] = []
        compactions: list[tuple[str, dict]] = []
        if wm is None:
            return drops, compactions
        for pid, hour in sorted(plant.buckets):
            if (pid, hour) not in plant.open and hour + HOUR + self.lateness(pid) <= wm:
                plant.buckets.discard((pid, hour))
                self._buckets.pop((pid, hour), None)
                drops.append(bucket_key(pid, hour))
        for pid, size, start in list(plant.revisions):
            if start + SIZE_SPANS[size] + self.lateness(pid) <= wm:
                del plant.revisions[(pid, size, start)]
        for pid, day in sorted(plant.days):
            lateness = self.lateness(pid)
            if day + DAY <= wm - lateness - ROLLING:  # no rolling window that can still change needs it
                plant.days.discard((pid, day))
                self._days.pop((pid, day), None)
                drops.append(day_key(pid, day))
            elif day + DAY + lateness <= wm and (pid, day) not in plant.pending:
                day_state = self._day((pid, day))
                if not day_state.compacted:
                    ordered = [day_state.hours[h] for h in sorted(day_state.hours)]
                    day_state.total = totals_to_text(combine(ordered))
                    day_state.roots = "".join(t.merkle_root for t in ordered)
                    day_state.hours = {}
                    compactions.append((day_key(pid, day), day_state.to_dict()))
        return drops, compactions

    def _plant(self, plant_id: str) -> PlantState:
        state = self._plants.get(plant_id)
        if state is None:
            state = self._plants[plant_id] = PlantState.from_dict(self.store.get(plant_key(plant_id)))
        return state

    def _bucket(self, key: tuple[str, datetime]) -> tuple[Bucket, dict[str, str]]:
        cached = self._buckets.get(key)
        if cached is None:
            stored = self.store.get(bucket_key(*key))
            cached = bucket_from_dict(stored) if stored else (Bucket(*key), {})
            self._buckets[key] = cached
        return cached

    def _day(self, key: tuple[str, datetime], create: bool = True) -> DayState | None:
        state = self._days.get(key)
        if state is None:
            stored = self.store.get(day_key(*key))
            if stored is None and not create:
                return None
            state = self._days[key] = DayState.from_dict(stored)
        return state
