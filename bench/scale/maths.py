"""The scale report's arithmetic, pure: percentiles, sustained rates, lag recovery, the oracle
comparison and the sizing derivation. No I/O, so tests/unit/bench checks it with plain numbers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default);
    NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    n: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(len(values), percentile(values, 50), percentile(values, 99), max(values, default=math.nan))


def rate(samples: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Units per second of a monotone counter sampled as (time, count), between the samples nearest
    inside [start, end]; NaN with fewer than two samples there."""
    inside = [(t, c) for t, c in samples if start <= t <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return math.nan
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def drain_time(samples: Sequence[tuple[float, float]], start: float, threshold: float = 0) -> float | None:
    """Seconds from `start` until the sampled lag is at or below `threshold` for good (the sample after
    the last one above it); None when the last sample is still above it."""
    after = [(t, v) for t, v in samples if t >= start]
    if not after:
        return None
    if after[-1][1] > threshold:
        return None
    last_above = max((i for i, (_, v) in enumerate(after) if v > threshold), default=None)
    if last_above is None:
        return 0.0
    return after[last_above + 1][0] - start


def recovery_threshold(before: Sequence[float], floor: float) -> float:
    """Lag counted as 'recovered': twice the p99 of the lag before the fault, at least `floor`."""
    return max(floor, 2 * percentile(before, 99)) if before else floor


RECOVERY_HOLD_S = 15.0  # the lag must stay back for this long to count as recovered


def lag_recovery(
    samples: Sequence[tuple[float, float]], fault_at: float, until: float, floor: float, hold: float = RECOVERY_HOLD_S
) -> float | None:
    """Seconds from a fault until the lag is back under the threshold of the minute before it (after
    its peak since the fault) and stays there for `hold` seconds, or to `until` (the next fault or the
    backlog phase) when that comes first; None when it had not recovered by `until`.

    Not "for good until the next fault": a consumer group's committed-offset lag is a sawtooth (offsets
    are committed per batch and per poll), so one late tooth minutes after the recovery must not undo it."""
    before = [v for t, v in samples if fault_at - 60 <= t < fault_at]
    window = [(t, v) for t, v in samples if fault_at <= t < until]
    if not window:
        return None
    threshold = recovery_threshold(before, floor)
    peak = max(range(len(window)), key=lambda i: window[i][1])
    for i in range(peak, len(window)):
        t, v = window[i]
        if v > threshold:
            continue
        held = [w for s, w in window[i:] if s <= t + hold]
        reaches = window[-1][0] >= t + hold or until - t <= hold
        if reaches and all(w <= threshold for w in held):
            return t - fault_at
    return None


def lag_trace(
    samples: Sequence[tuple[float, float]], fault_at: float, offsets: Sequence[float]
) -> list[tuple[float, float | None]]:
    """The lag at each offset after a fault (the last sample at or before it; None before any)."""
    out: list[tuple[float, float | None]] = []
    for offset in offsets:
        seen = [v for t, v in samples if fault_at <= t <= fault_at + offset]
        out.append((offset, seen[-1] if seen else None))
    return out


@dataclass(frozen=True)
class OracleComparison:
    """Final windows (latest revision per process, size and start) of the run against the oracle's."""

    expected: int
    matched: int
    missing: tuple[str, ...]  # windows the oracle has and the run never sent
    extra: tuple[str, ...]  # windows the run sent that the oracle does not have
    different: tuple[str, ...]  # same window, other bytes (a reading lost or counted twice)
    conflicting: tuple[str, ...]  # one window id sent twice with different bytes
    detail: tuple[str, ...] = ()  # for the first differing windows: what the oracle and the run emitted

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.different or self.conflicting)


WindowKey = tuple[str, int, float]  # process id, window size, start (epoch seconds)


def compare_windows(
    sent: Iterable[tuple[WindowKey, int, str, bytes]], oracle: Mapping[WindowKey, tuple[str, bytes]]
) -> OracleComparison:
    """`sent`: every window record of the run as (key, revision, window id, deterministic bytes);
    `oracle`: the oracle's final window per key as (window id, bytes)."""
    latest: dict[WindowKey, tuple[int, str, bytes]] = {}
    by_id: dict[str, bytes] = {}
    conflicting: set[str] = set()
    for key, revision, window_id, body in sent:
        if by_id.setdefault(window_id, body) != body:
            conflicting.add(window_id)
        if key not in latest or revision > latest[key][0]:
            latest[key] = (revision, window_id, body)
    missing = sorted(oracle[k][0] for k in oracle.keys() - latest.keys())
    extra = sorted(latest[k][1] for k in latest.keys() - oracle.keys())
    different = sorted(oracle[k][0] for k in oracle.keys() & latest.keys() if oracle[k][1] != latest[k][2])
    matched = len(oracle.keys() & latest.keys()) - len(different)
    return OracleComparison(
        len(oracle), matched, tuple(missing), tuple(extra), tuple(different), tuple(sorted(conflicting))
    )


@dataclass(frozen=True)
class Sizing:
    plants: int  # per this many plants
    readings_per_s: float
    partitions: int
    ingest_workers: int
    intensity_workers: int
    ingest_memory_mib: float
    intensity_memory_mib: float


def size_for(
    plants: int,
    meters_per_plant: float,
    interval_s: float,
    per_worker_readings_s: Mapping[str, float],
    memory_base_mib: Mapping[str, float],
    memory_per_plant_mib: Mapping[str, float],
    headroom: float = 2.0,
) -> Sizing:
    """Workers and memory for `plants` plants from measured per-worker throughput (readings/s of one
    process of a stage) with `headroom` (a day of backlog must drain while live data keeps arriving),
    and partitions: the larger worker count times two (room for the HPA to double), at least 12."""
    need = plants * meters_per_plant / interval_s
    workers = {}
    for stage in ("ingest", "intensity"):
        per = per_worker_readings_s.get(stage, math.nan)
        workers[stage] = max(1, math.ceil(need * headroom / per)) if per and per > 0 and math.isfinite(per) else 0
    partitions = max(12, 2 * max(workers.values()))

    def memory(stage: str) -> float:
        # each worker holds the state of its share of the plants
        n = max(1, workers[stage])
        return memory_base_mib.get(stage, math.nan) + memory_per_plant_mib.get(stage, math.nan) * plants / n

    return Sizing(
        plants, need, partitions, workers["ingest"], workers["intensity"], memory("ingest"), memory("intensity")
    )


def per_plant_memory(base_mib: float, peak_mib: float, plants: int) -> float:
    """Memory a process grows by per plant it serves, from its idle and its peak resident size."""
    return max(0.0, peak_mib - base_mib) / plants if plants else math.nan
