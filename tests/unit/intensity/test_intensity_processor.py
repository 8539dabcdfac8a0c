"""The faust agent's step (Processor over a dict) against the oracle, and replay after crashes.

A crash is simulated the way a SIGKILLed worker sees it: the table keeps a PREFIX of its writes
(one changelog), the committed offset is at or before the last plant write, and the readings
after it are consumed again.
"""

import random
from collections import Counter

import pytest
from intensity_builders import reading
from intensity_day import EXAMPLE_CONFIG, plant_day

from epd.v1 import intensity_pb2
from epd_intensity.app.processor import REPLAYED, Processor
from epd_intensity.oracle import compute_windows
from epd_intensity.processes import load_processes


class LoggedStore(dict):
    """A dict that records every write in order, as a changelog does."""

    def __init__(self, *args):
        super().__init__(*args)
        self.log = []

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.log.append((key, value))

    def __delitem__(self, key):
        super().__delitem__(key)
        self.log.append((key, None))


def restore(log):
    store = LoggedStore()
    for key, value in log:
        if value is None:
            store.pop(key, None)
        else:
            dict.__setitem__(store, key, value)
    store.log = list(log)
    return store


def final_by_key(windows):
    latest = {}
    for w in windows:
        key = (w.process_id, w.size, w.window_start.ToDatetime())
        if key not in latest or w.revision > latest[key].revision:
            latest[key] = w
    return {w.window_id: w.SerializeToString(deterministic=True) for w in latest.values()}


def run(processor, readings, start=0, stop=None, out=None):
    out = [] if out is None else out
    outcomes = Counter()
    for offset in range(start, len(readings) if stop is None else stop):
        step = processor.handle(readings[offset], 0, offset)
        outcomes[step.outcome] += 1
        out.extend(step.windows)
        processor.commit()
    return out, outcomes


@pytest.fixture(scope="module")
def example():
    return load_processes(EXAMPLE_CONFIG)


def test_plant_day_equals_oracle(example, library):
    readings = plant_day()
    oracle = compute_windows(readings, example, library)
    windows, outcomes = run(Processor(example, library, LoggedStore()), readings)
    assert [w.window_id for w in windows] == [w.window_id for w in oracle.history]
    assert [w.SerializeToString(deterministic=True) for w in windows] == [
        w.SerializeToString(deterministic=True) for w in oracle.history
    ]
    for name in ("accepted", "late_revision", "too_late", "duplicate", "unknown_activity", "unknown_process"):
        assert outcomes[name] == oracle.outcomes[name], name
    assert outcomes["too_late"] > 0 and outcomes["late_revision"] > 0 and outcomes["duplicate"] > 0
    sizes = Counter(w.size for w in oracle.final)
    assert sizes[intensity_pb2.WINDOW_SIZE_DAILY] == 6 and sizes[intensity_pb2.WINDOW_SIZE_ROLLING_30D] == 6
    undefined = [
        w
        for w in oracle.final
        if w.process_id == "baotou-1/leaching"
        and w.size == intensity_pb2.WINDOW_SIZE_HOURLY
        and not w.intensities[0].defined
    ]
    assert len(undefined) == 1


def test_state_is_bounded_over_many_days(example, library):
    """Thirty-four days: buckets and hourly totals are dropped once final; days compact, then expire."""
    readings = []
    for d in range(34):
        day = f"2024-04-{d + 1:02d}" if d < 30 else f"2024-05-{d - 29:02d}"
        readings += [
            r
            for r in plant_day(seed=d, step_minutes=120, day=day)
            if r.process_id.startswith("baotou-1/") and "no-factor" not in r.reading_id
        ]
    oracle = compute_windows(readings, example, library)
    store = LoggedStore()
    windows, _ = run(Processor(example, library, store), readings)
    assert final_by_key(windows) == final_by_key(oracle.history)
    kinds = Counter(key[0] for key in store)
    assert kinds["p"] == 1
    assert kinds["b"] <= 6 * 6  # only buckets within lateness (+ the open hours)
    assert kinds["d"] <= 6 * 33  # 30 days + lateness + today, per process
    compacted = [v for k, v in store.items() if k.startswith("d|") and "total" in v["v"]]  # version pairs
    assert len(compacted) >= 6 * 28
    # A compacted day keeps its hourly totals as the value before only until the next commit of its
    # plant (then durable): the last commit's compactions may still hold them, no older one does.
    last_commit = max(v["at"][1] for v in compacted)
    kept = [v for v in compacted if v["prev"] is not None]
    assert all(v["at"][1] == last_commit for v in kept), [v["at"] for v in kept]
    assert len(kept) <= 6


@pytest.mark.parametrize("seed", [1, 2])
def test_crash_at_random_points_gives_the_same_final_windows(example, library, seed):
    readings = plant_day(seed=seed)
    reference = final_by_key(compute_windows(readings, example, library).history)
    rng = random.Random(seed)
    store = LoggedStore()
    out: list = []
    position = 0
    for _ in range(4):
        crash_at = rng.randrange(position, len(readings))
        processor = Processor(example, library, store)
        run(processor, readings, position, crash_at, out)
        # Kill: the changelog kept a random prefix of the writes made since the last restart, and at
        # least everything up to the last plant write before the committed offset.
        plant_writes = [i for i, (k, _) in enumerate(store.log) if k.startswith("p|")]
        keep = rng.randrange(plant_writes[len(plant_writes) // 2] + 1 if plant_writes else 0, len(store.log) + 1)
        store = restore(store.log[:keep])
        position = rng.randrange(0, position + 1) if rng.random() < 0.5 else position // 2  # committed offset
        position = min(position, crash_at)
    run(Processor(example, library, store), readings, position, None, out)
    assert final_by_key(out) == reference
    by_id = {}
    for w in out:
        body = w.SerializeToString(deterministic=True)
        assert by_id.setdefault(w.window_id, body) == body, f"conflicting duplicate {w.window_id}"


def test_replay_below_applied_offset_is_skipped_and_true_duplicates_do_not_move(example, library):
    p = "baotou-1/roasting"
    r1 = reading(p, "electricity.grid", "10", "2024-03-12T10:10:00", reading_id="a")
    processor = Processor(example, library, LoggedStore())
    first = processor.handle(r1, 0, 5)
    processor.commit()
    assert first.outcome == "accepted"
    assert processor.handle(r1, 0, 5).outcome == REPLAYED
    assert processor.handle(r1, 0, 9).outcome == "duplicate"
