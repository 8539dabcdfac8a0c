"""The stateful step of the faust agent, over a key-value store (a faust table, or a dict in tests).

Same decisions as the oracle (oracle.py), per plant: watermark per plant, hourly buckets per
process, hourly emission when the watermark passes the hour's end, revision + 1 for a late reading
within the allowed lateness, daily and trailing 30-day windows at each day's close. What differs
is the state: only what can still change is kept (buckets until final, hourly totals of days that
can still be revised, then per-day sums and hourly Merkle roots for 30 days + lateness).

Batches. A source record carries many readings (epd_common.reading_batches); all of them are handled
with the record's offset, and a reading is replayed when that offset is at or below the plant's
applied offset as stored (the caller admits each record once per batch, source_progress.py).
`handle` changes only memory; `commit` persists every plant touched since the last
commit (one batch of readings: the agent calls it once per `take_events` batch, a per-reading
caller after each `handle`). The caller sends the batch's windows and corrections and awaits
their acknowledgements BEFORE `commit`.

Crash safety without exactly-once: per plant, `commit` writes each changed bucket/day key, then
the plant state LAST (it records the source offset applied), then deletes what became final. All
keys live in one table, so a restarted worker finds a prefix of these writes. A changed key is
written as a version pair (state.py `versioned`): its value at the end of this batch and its
value before it, tagged with the batch's last source offset; a reader whose plant state has not
applied that offset (the plant write was lost) takes the value before. Both choices, when a key
is read and when its "before" is taken at commit, are made against the offsets of the plant state
AS STORED (`_persisted`), never the in-memory offsets the batch has already advanced: a key left
by a lost write of a killed run ({at: U, v: lost}) is rewritten by the restarted run's batch, and if
that batch ends past U its new offsets would take the lost value for the "before"; a second kill
losing that batch's plant write then resumed from state ahead of its offsets. So a restarted worker
always resumes from the state exactly as of the plant's applied offset, skips readings at or
below it, and redoes the rest from the same state: same revisions, same ids AND the same bytes,
whatever the batch boundaries of either run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from epd.v1 import intensity_pb2, telemetry_pb2
from epd_intensity.core import (
    Bucket,
    Missing,
    Outcome,
    Refused,
    WatermarkPolicy,
    WindowTotals,
    admit,
    build_window,
    combine,
    compute_totals,
    day_start,
    derive,
    derived_windows_of_hour,
)
from epd_intensity.core.evidence import root_of_leaves
from epd_intensity.core.ids import DAY, HOUR, ROLLING, SIZE_SPANS
from epd_intensity.core.rolling import DAILY, ROLLING_30D, rolling_start_for_day
from epd_intensity.factors.model import FactorLibrary, FactorSet
from epd_intensity.processes import ProcessConfig

from .state import (
    DayState,
    PlantState,
    Store,
    WindowKey,
    bucket_from_dict,
    bucket_key,
    bucket_to_dict,
    current,
    day_key,
    plant_key,
    versioned,
)

HOURLY = intensity_pb2.WINDOW_SIZE_HOURLY
REPLAYED = "replayed"  # at or below the plant's applied offset: already fully processed
_NEVER = datetime.max.replace(tzinfo=UTC)
_NO_SET = FactorSet("", datetime(1970, 1, 1, tzinfo=UTC), "", 0, (), {})
_VALUE = {outcome: outcome.value for outcome in Outcome}  # Enum.value is a property: looked up per reading
_DUPLICATE = Outcome.DUPLICATE.value


class Step:
    """What one reading did: its outcome, the windows it emitted, its correction-log entry."""

    __slots__ = ("correction", "missing", "outcome", "windows")

    def __init__(
        self,
        outcome: str,
        windows: list[intensity_pb2.IntensityWindow] | None = None,
        correction: tuple[str, str] | None = None,
        missing: list[Missing] | None = None,
    ) -> None:
        self.outcome = outcome
        self.windows = [] if windows is None else windows
        self.correction = correction  # (outcome, detail) for the correction log
        self.missing = [] if missing is None else missing


# The steps of readings that emitted nothing (most of them): one shared Step per outcome instead of one
# per reading. Callers only read steps; a reading that emits gets a Step of its own.
_QUIET = {outcome.value: Step(outcome.value) for outcome in Outcome} | {REPLAYED: Step(REPLAYED)}


class Processor:
    def __init__(
        self,
        processes: Mapping[str, ProcessConfig],
        factors: FactorSet | FactorLibrary,
        store: Store,
        lateness: timedelta | None = None,
        policy: WatermarkPolicy | None = None,
    ) -> None:
        self.processes, self.library = processes, FactorLibrary.of(factors)
        self.store, self.lateness_override, self.policy = store, lateness, policy or WatermarkPolicy()
        self._lateness = {
            pid: (lateness if lateness is not None else p.allowed_lateness) for pid, p in processes.items()
        }
        self._reset_pending = False
        self._drop_caches()

    def reset(self) -> None:
        """Drop decoded caches (on rebalance: the table is the truth); deferred past an open batch."""
        if self._touched:
            self._reset_pending = True
        else:
            self._drop_caches()

    def _drop_caches(self) -> None:
        self._plants: dict[str, PlantState] = {}
        self._persisted: dict[str, dict[int, int]] = {}  # plant -> applied offsets of its stored state
        self._buckets: dict[tuple[str, datetime], Bucket] = {}
        self._days: dict[tuple[str, datetime], DayState] = {}
        self._touched: dict[str, int] = {}  # plant -> source partition, changed since the last commit
        self._dirty: dict[str, dict[str, Bucket | DayState]] = {}  # plant -> changed keys
        self._due: dict[str, datetime] = {}  # plant -> earliest watermark at which _close has work
        # plant -> day keys compacted by its last commit: their value before (the hourly totals) is kept
        # until that commit is durable, then dropped by the plant's next commit (_trim_compacted)
        self._compacted: dict[str, set[str]] = {}
        # day -> starts of the 30-day windows holding its hours (asked per hourly emission), for the days seen
        self._rolling_starts: dict[datetime, tuple[datetime, ...]] = {}
        self._reset_pending = False

    def discard(self) -> None:
        """The open batch failed: forget its changes (memory only; the table holds what was committed)."""
        self._drop_caches()

    def lateness(self, process_id: str) -> timedelta:
        return self._lateness[process_id]

    # -- one reading -------------------------------------------------------------------------
    def handle(self, reading: telemetry_pb2.Reading, partition: int, offset: int) -> Step:
        admitted = admit(reading, self.processes)
        if isinstance(admitted, Refused):
            return Step(admitted.outcome.value, correction=(admitted.outcome.value, admitted.detail))
        process = admitted.process
        plant_id = process.plant_id
        plant = self._plants.get(plant_id) or self._plant(plant_id)  # the cached state, else loaded
        # Against the offsets AS STORED: the readings of one record (a ReadingBatch) share its offset, so
        # the in-memory offset the record's first reading set must not make the others look replayed.
        applied = self._persisted[plant_id].get(partition)
        if applied is not None and offset <= applied:
            return _QUIET[REPLAYED]
        event_time = admitted.event_time
        decision = self.policy.decide(
            event_time, plant.watermark, self._lateness[process.process_id], admitted.ingested_at, admitted.hour
        )
        if decision is Outcome.TOO_LATE or decision is Outcome.FUTURE:
            outcome = _VALUE[decision]
            detail = f"event time {event_time.isoformat()} vs watermark {plant.watermark}"
            return Step(outcome, correction=(outcome, detail))
        key = (process.process_id, admitted.hour)
        bucket = self._buckets.get(key) or self._bucket(key)
        if admitted.reading_id in bucket.reading_hashes:
            return _QUIET[_DUPLICATE]  # a resent reading: ignored, nothing moves
        bucket.take(admitted)
        plant.buckets.add(key)
        dirty = self._dirty.get(plant_id)
        if dirty is None:
            dirty = self._dirty[plant_id] = {}
        dirty[bucket_key(*key)] = bucket  # _changed, inlined (per reading)
        outcome = _VALUE[decision]
        step: Step | None = None
        before = plant.watermark
        if decision is Outcome.LATE_REVISION:
            assert before is not None  # the policy decides LATE_REVISION only against a watermark
            step = Step(outcome)
            self._emit_hour(plant, key, before, step)
        elif key not in plant.open:
            plant.open.add(key)
            self._due.pop(plant_id, None)
        after = event_time if before is None or event_time > before else before
        plant.watermark = after
        if after != before or step is not None:
            due = self._due.get(plant_id)
            if due is None or after >= due:  # else _close has nothing to do (most readings)
                if step is None:
                    step = Step(outcome)
                self._close(plant, after, step)
        plant.offsets[partition] = offset
        self._touched[plant_id] = partition
        return _QUIET[outcome] if step is None or not (step.windows or step.missing) else step

    # -- emission (mirrors oracle._Run) ---------------------------------------------------------
    def _emit(
        self,
        plant: PlantState,
        key: WindowKey,
        make: Callable[[int], intensity_pb2.IntensityWindow | None],
        step: Step,
    ) -> None:
        revision = plant.revisions.get(key, 0)
        window = make(revision)
        if window is None:
            return
        plant.revisions[key] = revision + 1
        step.windows.append(window)

    def _emit_hour(self, plant: PlantState, key: tuple[str, datetime], watermark: datetime, step: Step) -> None:
        pid, hour = key
        process = self.processes[pid]
        bucket = self._bucket(key)
        totals, missing = compute_totals(bucket, process, self.library.for_window(hour) or _NO_SET)
        step.missing.extend(missing)
        day = day_start(hour)
        day_state = self._day((pid, day))
        if day_state.compacted:  # cannot happen: a revisable hour lies in a revisable day
            raise RuntimeError(f"hour {hour} of {pid} is in a compacted day")
        day_state.hours[hour] = totals
        self._changed(plant, day_key(pid, day), day_state)
        plant.days.add((pid, day))
        self._emit(
            plant, (pid, HOURLY, hour), lambda rev: build_window(totals, process, HOURLY, hour, rev, watermark), step
        )
        if (pid, DAILY, day) in plant.revisions:
            self._daily(plant, pid, day, watermark, step)
        else:
            plant.pending.add((pid, day))
            self._due.pop(plant.plant_id, None)
        # The emitted 30-day windows that contain this hour (derived_windows_of_hour's rolling
        # windows with a revision), oldest first as there: 30 lookups, not a scan of every revision.
        revisions = plant.revisions
        starts = self._rolling_starts.get(day)
        if starts is None:
            if len(self._rolling_starts) >= 64:  # a long replay: keep the cache small
                self._rolling_starts.clear()
            starts = self._rolling_starts[day] = _rolling_starts(day)
        for start in starts:
            if (pid, ROLLING_30D, start) in revisions:
                self._rolling(plant, pid, start, watermark, step)

    def _daily(self, plant: PlantState, pid: str, day: datetime, watermark: datetime, step: Step) -> None:
        hours = self._day((pid, day)).hours
        self._emit(
            plant, (pid, DAILY, day), lambda rev: derive(hours, self.processes[pid], DAILY, day, rev, watermark), step
        )

    def _rolling(self, plant: PlantState, pid: str, start: datetime, watermark: datetime, step: Step) -> None:
        """Exact 30-day sums from per-day sums; the Merkle root over every hourly root, as derive does."""
        sums: list[WindowTotals] = []
        leaves: dict[str, bytes] = {}  # hourly root -> its leaf: merkle_root's sorted, de-duplicated leaves
        for i in range(ROLLING // DAY):
            day_state = self._stored_day((pid, start + DAY * i))
            if day_state is None:
                continue
            day_sum = day_state.day_sum()
            if day_sum is not None:
                sums.append(day_sum)
            leaves.update(day_state.hour_leaves())

        def make(rev: int) -> intensity_pb2.IntensityWindow | None:
            if not sums:
                return None
            totals = combine(sums, with_root=False)
            totals.merkle_root = root_of_leaves([leaves[root] for root in sorted(leaves)])
            return build_window(totals, self.processes[pid], ROLLING_30D, start, rev, watermark)

        self._emit(plant, (pid, ROLLING_30D, start), make, step)

    def _close(self, plant: PlantState, watermark: datetime, step: Step) -> None:
        due = self._due.get(plant.plant_id)
        if due is None:
            due = self._due[plant.plant_id] = _earliest_close(plant)
        if watermark < due:  # most readings: nothing open or pending ends by the new watermark
            return
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
        self._due[plant.plant_id] = _earliest_close(plant)

    # -- state -------------------------------------------------------------------------------
    def commit(self) -> None:
        """Persist every plant changed since the last commit: changed keys as version pairs, then
        the plant state (its applied offsets), then deletions of what became final."""
        select = getattr(self.store, "select_partition", None)
        for plant_id, partition in sorted(self._touched.items()):
            plant = self._plants[plant_id]
            if select is not None:
                select(partition)
            self._trim_compacted(plant_id)  # before _finalise registers this commit's compactions
            drops = self._finalise(plant)
            dirty = self._dirty.pop(plant_id, {})
            upto = plant.offsets[partition]
            for key in sorted(dirty.keys() - set(drops)):
                value = dirty[key]
                encoded = bucket_to_dict(value) if isinstance(value, Bucket) else value.to_dict()
                before = current(self.store.get(key), self._persisted[plant_id])
                self.store[key] = versioned(partition, upto, encoded, before)
            self.store[plant_key(plant_id)] = plant.to_dict()  # the last write of the batch
            self._persisted[plant_id] = dict(plant.offsets)
            for key in drops:  # after the plant write: a crash here leaks a key, never loses one
                if key in self.store:
                    del self.store[key]
        self._touched.clear()
        if self._reset_pending:
            self._drop_caches()

    def _trim_compacted(self, plant_id: str) -> None:
        """Drop the value before of the day keys the plant's previous commit compacted. That commit is
        durable (the agent awaits every changelog ack before the next batch), so its plant state holds
        offsets at or past those writes and `current` can only pick their new value. Compacted days are
        never written again, so without this each would keep its previous hourly totals until dropped."""
        for key in sorted(self._compacted.pop(plant_id, set())):
            stored = self.store.get(key)
            if stored is not None and stored["prev"] is not None:
                self.store[key] = {**stored, "prev": None}

    def _changed(self, plant: PlantState, key: str, value: Bucket | DayState) -> None:
        self._dirty.setdefault(plant.plant_id, {})[key] = value

    def _finalise(self, plant: PlantState) -> list[str]:
        """Forget what can no longer change; returns table keys to delete (days compacted are
        marked changed)."""
        wm = plant.watermark
        drops: list[str] = []
        if wm is None:
            return drops
        for pid, hour in sorted(plant.buckets):
            if (pid, hour) not in plant.open and hour + HOUR + self._lateness[pid] <= wm:
                plant.buckets.discard((pid, hour))
                self._buckets.pop((pid, hour), None)
                drops.append(bucket_key(pid, hour))
        for pid, size, start in list(plant.revisions):
            if start + SIZE_SPANS[size] + self._lateness[pid] <= wm:
                del plant.revisions[(pid, size, start)]
        for pid, day in sorted(plant.days):
            lateness = self._lateness[pid]
            if day + DAY <= wm - lateness - ROLLING:  # no rolling window that can still change needs it
                plant.days.discard((pid, day))
                self._days.pop((pid, day), None)
                drops.append(day_key(pid, day))
            elif day + DAY + lateness <= wm and (pid, day) not in plant.pending:
                day_state = self._day((pid, day))
                if not day_state.compacted:
                    day_state.compact()
                    self._changed(plant, day_key(pid, day), day_state)
                    self._compacted.setdefault(plant.plant_id, set()).add(day_key(pid, day))
        return drops

    def _plant(self, plant_id: str) -> PlantState:
        state = self._plants.get(plant_id)
        if state is None:
            state = PlantState.from_dict(self.store.get(plant_key(plant_id)))
            state.plant_id = plant_id
            self._persisted[plant_id] = dict(state.offsets)
            self._plants[plant_id] = state
        return state

    def _bucket(self, key: tuple[str, datetime]) -> Bucket:
        cached = self._buckets.get(key)
        if cached is None:
            stored = current(self.store.get(bucket_key(*key)), self._persisted[self.processes[key[0]].plant_id])
            cached = bucket_from_dict(stored) if stored else Bucket(*key)
            self._buckets[key] = cached
        return cached

    def _day(self, key: tuple[str, datetime]) -> DayState:
        """The day's state, a new empty one if none is stored."""
        state = self._stored_day(key)
        if state is None:
            state = self._days[key] = DayState()
        return state

    def _stored_day(self, key: tuple[str, datetime]) -> DayState | None:
        state = self._days.get(key)
        if state is None:
            stored = current(self.store.get(day_key(*key)), self._persisted[self.processes[key[0]].plant_id])
            if stored is None:
                return None
            state = self._days[key] = DayState.from_dict(stored)
        return state


def _rolling_starts(day: datetime) -> tuple[datetime, ...]:
    """Starts of the 30-day windows containing the hours of `day`, oldest first (derived_windows_of_hour)."""
    return tuple(start for size, start in derived_windows_of_hour(day) if size == ROLLING_30D)


def _earliest_close(plant: PlantState) -> datetime:
    """The watermark from which _close emits something: the first open hour's end or pending day's end."""
    ends = [start + HOUR for _, start in plant.open] + [day + DAY for _, day in plant.pending]
    return min(ends, default=_NEVER)
