"""Batched commits (one state write per plant per batch) and crashes at any write of a commit.

A crash is simulated as a SIGKILLed worker sees it: the table keeps a PREFIX of its writes (one
changelog per partition), the committed source offset is at or before the last plant write kept
(faust commits only after the agent finished a batch and the producer was flushed), and the
readings after it are consumed again, in batches of other sizes than the first run's.
"""

import random
from collections import Counter

import pytest
from intensity_day import EXAMPLE_CONFIG, plant_day
from test_intensity_processor import LoggedStore, final_by_key, restore

from epd_intensity.app.processor import REPLAYED, Processor
from epd_intensity.app.state import current, versioned
from epd_intensity.oracle import compute_windows
from epd_intensity.processes import load_processes


@pytest.fixture(scope="module")
def example():
    return load_processes(EXAMPLE_CONFIG)


def bodies(windows):
    return [w.SerializeToString(deterministic=True) for w in windows]


def run_batches(processor, readings, start, stop, sizes, out, commits=None):
    offset = start
    while offset < stop:
        end = min(stop, offset + next(sizes))
        for i in range(offset, end):
            out.extend(processor.handle(readings[i], 0, i).windows)
        processor.commit()
        if commits is not None:
            commits.append(end - 1)
        offset = end


def sizes_from(rng, low=1, high=400):
    while True:
        yield rng.randint(low, high)


def test_batches_of_any_size_emit_exactly_the_oracles_sequence(example, library):
    readings = plant_day(seed=3)
    oracle = compute_windows(readings, example, library)
    for seed in (1, 2):
        out: list = []
        run_batches(
            Processor(example, library, LoggedStore()), readings, 0, len(readings), sizes_from(random.Random(seed)), out
        )
        assert bodies(out) == bodies(oracle.history)


def test_one_plant_write_per_batch_and_state_written_before_it(example, library):
    readings = plant_day(seed=4)
    store = LoggedStore()
    processor = Processor(example, library, store)
    run_batches(processor, readings, 0, len(readings), iter(lambda: 500, None), [])
    kinds = Counter(k[0] for k, _ in store.log)
    assert kinds["p"] == -(-len(readings) // 500)  # one per batch (a single plant)
    # Every bucket/day value is a version pair tagged with the offset its plant write records.
    plant_offsets = [v["offsets"]["0"] for k, v in store.log if k.startswith("p|")]
    for key, value in store.log:
        if value is not None and key[0] in "bd":
            assert value["at"][0] == 0 and value["at"][1] in plant_offsets


# 16, 17 and 34 failed while a commit took a key's "before" value at the batch's new offsets: see
# test_a_second_crash_inside_a_commit_after_a_restart_does_not_resurrect_lost_writes.
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 16, 17, 34])
def test_crash_inside_a_batch_commit_gives_the_same_final_windows_and_no_conflicts(example, library, seed):
    readings = plant_day(seed=seed)
    reference = final_by_key(compute_windows(readings, example, library).history)
    rng = random.Random(seed)
    store = LoggedStore()
    out: list = []
    committed = 0  # the consumer's committed offset: next reading to consume
    for _ in range(4):
        crash_at = rng.randrange(committed, len(readings))
        commits: list[int] = []
        run_batches(Processor(example, library, store), readings, committed, crash_at, sizes_from(rng), out, commits)
        # Kill: the changelog kept any prefix of the writes (often mid-commit: keys written, plant not).
        keep = rng.randrange(0, len(store.log) + 1)
        store = restore(store.log[:keep])
        plant = [v for k, v in store.log if k.startswith("p|")]
        applied = plant[-1]["offsets"]["0"] if plant else -1
        # faust committed at most the offset of the last plant write kept, maybe less.
        committed = rng.randint(0, applied + 1) if rng.random() < 0.5 else applied + 1
    run_batches(Processor(example, library, store), readings, committed, len(readings), sizes_from(rng), out)
    assert final_by_key(out) == reference
    by_id = {}
    for w in out:
        body = w.SerializeToString(deterministic=True)
        assert by_id.setdefault(w.window_id, body) == body, f"conflicting duplicate {w.window_id}"


def _kill_inside_commit(store, plant_write, floor, keys_lost):
    """A kill inside the commit whose plant write is log entry `plant_write`: it and the
    `keys_lost - 1` writes before it (not below `floor`) are lost. Returns the store and the
    next offset to consume (just after the last plant write kept)."""
    store = restore(store.log[: max(floor, plant_write - keys_lost + 1)])
    plant = [v for k, v in store.log if k.startswith("p|")]
    return store, (plant[-1]["offsets"]["0"] + 1 if plant else 0)


def _plant_writes(store, since=0):
    return [i for i, (k, _) in enumerate(store.log) if k.startswith("p|") and i >= since]


@pytest.mark.parametrize(
    ("first", "stop", "second", "lost1", "lost2"),
    [(100, 2700, 370, 1, 3), (60, 1800, 153, 2, 4), (50, 200, 223, 7, 20)],
)
def test_a_second_crash_inside_a_commit_after_a_restart_does_not_resurrect_lost_writes(
    example, library, first, stop, second, lost1, lost2
):
    """Kill 1 loses the tail of a commit: some keys are stored as {at: U, v: lost, prev: good}, the
    plant write is not. The restarted worker's first batch rewrites those keys and ends past U; kill 2
    loses ITS plant write. A rewritten key's "before" must be its value as of the STORED plant state
    (prev), not as of the batch's new offsets (which took the lost value for the good one, so the
    next restart resumed from state ahead of its offsets: readings seen as duplicates, conflicts)."""
    readings = plant_day(seed=11)
    reference = final_by_key(compute_windows(readings, example, library).history)
    store, out = LoggedStore(), []
    run_batches(Processor(example, library, store), readings, 0, stop, iter(lambda: first, None), out)
    *_, previous, last = _plant_writes(store)
    store, committed = _kill_inside_commit(store, last, previous + 1, lost1)
    since = len(store.log)
    run_batches(
        Processor(example, library, store), readings, committed, committed + second, iter(lambda: second, None), out
    )
    store, committed = _kill_inside_commit(store, _plant_writes(store, since)[0], since, lost2)
    run_batches(Processor(example, library, store), readings, committed, len(readings), iter(lambda: 50, None), out)
    assert final_by_key(out) == reference
    by_id = {}
    for w in out:
        body = w.SerializeToString(deterministic=True)
        assert by_id.setdefault(w.window_id, body) == body, f"conflicting duplicate {w.window_id}"


def test_version_pair_follows_the_plant_state():
    value = versioned(2, 40, {"new": 1}, {"old": 1})
    assert current(value, {2: 40}) == {"new": 1}  # the batch's plant write is there
    assert current(value, {2: 39}) == {"old": 1}  # lost: the value before the batch
    assert current(value, {}) == {"old": 1}
    assert current(versioned(2, 40, {"new": 1}, None), {2: 7}) is None  # the key did not exist before
    assert current(None, {2: 40}) is None


def test_readings_replayed_below_the_applied_offset_move_nothing(example, library):
    readings = plant_day(seed=5)[:600]
    store = LoggedStore()
    first = Processor(example, library, store)
    run_batches(first, readings, 0, 600, iter(lambda: 250, None), [])
    again = Processor(example, library, store)
    writes = len(store.log)
    steps = [again.handle(r, 0, i) for i, r in enumerate(readings)]
    again.commit()
    assert {s.outcome for s in steps} == {REPLAYED} | {s.outcome for s in steps if s.correction}
    assert not any(s.windows for s in steps)
    assert len(store.log) == writes  # nothing rewritten


def test_readings_sharing_their_records_offset_are_all_applied_and_replayed_together(example, library):
    """A source record is a ReadingBatch: its readings all carry the record's offset. None of them is taken
    for a replay of the one before, and after the commit the same record is replayed as a whole."""
    readings = plant_day(seed=6)
    oracle = compute_windows(readings, example, library)
    rng = random.Random(6)
    records, i = [], 0
    while i < len(readings):  # records of 1..120 readings, several records per commit
        n = rng.randint(1, 120)
        records.append(readings[i : i + n])
        i += n
    store = LoggedStore()
    processor, out = Processor(example, library, store), []
    for offset, record in enumerate(records):
        steps = [processor.handle(r, 0, offset) for r in record]
        assert REPLAYED not in {s.outcome for s in steps}
        out.extend(w for s in steps for w in s.windows)
        if offset % 7 == 6 or offset == len(records) - 1:
            processor.commit()
    assert bodies(out) == bodies(oracle.history)
    again = Processor(example, library, store)
    steps = [again.handle(r, 0, offset) for offset, record in enumerate(records) for r in record]
    assert {s.outcome for s in steps if not s.correction} == {REPLAYED}
    assert not any(s.windows for s in steps)
