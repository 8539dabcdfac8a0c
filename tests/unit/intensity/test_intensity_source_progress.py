"""SourceProgress: the worker's own position per source partition (source_progress.py). A reading
lost between the consumer and the state (dropped on a rebalance, acked by faust after a failed
batch) shows as a gap and is read again; nothing already applied is applied twice."""

from epd_intensity.app.consumer_steps import ConsumerSteps
from epd_intensity.app.source_progress import Admission, SourceProgress
from epd_intensity.app.state import progress_key


class Store(dict):
    def __init__(self, *args):
        super().__init__(*args)
        self.writes = []  # (partition selected, key, value)
        self.partition = None

    def select_partition(self, partition):
        self.partition = partition

    def __setitem__(self, key, value):
        self.writes.append((self.partition, key, value))
        super().__setitem__(key, value)


def test_contiguous_readings_are_processed_and_committed_per_partition_on_its_changelog():
    store = Store()
    progress = SourceProgress(store)
    assert [progress.admit(0, o) for o in (0, 1, 2)] == [Admission.PROCESS] * 3
    assert progress.admit(1, 7) is Admission.PROCESS  # nothing applied yet: the first one sets the position
    progress.commit()
    assert store.writes == [(0, progress_key(0), 2), (1, progress_key(1), 7)]
    assert progress.resume_offset(0) == 3 and progress.resume_offset(2) is None


def test_a_reading_after_a_gap_is_not_processed_and_the_partition_is_rewound_to_the_missing_one():
    store = Store({progress_key(0): 2685})
    progress = SourceProgress(store)
    assert progress.admit(0, 2686) is Admission.PROCESS
    assert progress.admit(0, 2687) is Admission.PROCESS
    assert progress.admit(0, 2690) is Admission.GAP  # 2688 and 2689 never arrived
    assert progress.rewinds() == {0: 2688}
    # What faust still delivers from before the seek is dropped until 2688 comes.
    assert progress.admit(0, 2691) is Admission.STALE
    progress.commit()  # the batch's readings up to 2687 are applied
    assert store[progress_key(0)] == 2687
    assert progress.admit(0, 2687) is Admission.REPLAYED
    assert [progress.admit(0, o) for o in (2688, 2689, 2690)] == [Admission.PROCESS] * 3
    assert progress.rewinds() == {}


def test_readings_at_or_below_the_stored_offset_are_replayed_not_applied_again():
    progress = SourceProgress(Store({progress_key(3): 40}))
    assert progress.admit(3, 12) is Admission.REPLAYED
    assert progress.admit(3, 40) is Admission.REPLAYED
    assert progress.admit(3, 41) is Admission.PROCESS
    assert progress.admit(3, 41) is Admission.REPLAYED  # delivered twice within one batch


def test_a_failed_batch_counts_for_nothing_and_is_read_again_from_the_applied_offset():
    store = Store({progress_key(0): 9})
    progress = SourceProgress(store)
    for offset in (10, 11, 12):
        assert progress.admit(0, offset) is Admission.PROCESS
    assert progress.admit(5, 0) is Admission.PROCESS
    assert progress.abandon({0, 5}) == {
        0: 10,
        5: None,
    }  # partition 5 has nothing applied: the caller seeks to its start
    progress.commit()
    assert store.writes == []
    assert progress.admit(0, 13) is Admission.STALE  # queued before the seek
    assert progress.admit(0, 10) is Admission.PROCESS


def test_readings_deleted_by_retention_are_stepped_over():
    progress = SourceProgress(Store({progress_key(0): 9}))
    assert progress.admit(0, 500) is Admission.GAP
    progress.skip_to(0, 400)  # the earliest offset the partition still has
    assert progress.admit(0, 500) is Admission.STALE
    assert progress.admit(0, 400) is Admission.PROCESS


def test_after_a_rebalance_the_stored_offsets_are_read_again():
    store = Store({progress_key(0): 5})
    progress = SourceProgress(store)
    assert progress.admit(0, 6) is Admission.PROCESS
    progress.commit()
    store[progress_key(0)] = 50  # another worker held the partition meanwhile
    progress.forget()
    assert progress.resume_offset(0) == 51
    assert progress.admit(0, 50) is Admission.REPLAYED


def test_a_transaction_marker_the_consumer_steps_over_does_not_freeze_the_partition():
    """A transactional producer's commit marker takes an offset no consumer delivers: readings 0-2, the
    marker at 3, readings 4-6. The consumer reads 4 from position 3: nothing can come in between."""
    steps = ConsumerSteps("readings")
    progress = SourceProgress(Store(), steps)
    steps.fetched(0, [0, 1, 2], steps.seeks(0))
    steps.fetched(0, [4, 5, 6], steps.seeks(0))  # the next fetch: the consumer's position was 3 (the marker)
    assert [progress.admit(0, o) for o in (0, 1, 2)] == [Admission.PROCESS] * 3
    assert progress.admit(0, 4) is Admission.STEP and progress.claimed_from(0) == 3
    progress.confirm_step(0, 4)  # the broker, read from 3, gives 4 first
    assert [progress.admit(0, o) for o in (5, 6)] == [Admission.PROCESS] * 2
    progress.commit()
    assert progress.resume_offset(0) == 7 and steps.stepped_from(0, 4) is None  # released once applied


def test_without_the_consumer_steps_a_marker_would_be_waited_for_forever():
    progress = SourceProgress(Store({progress_key(0): 2}))
    assert progress.admit(0, 4) is Admission.GAP  # offset 3 is a marker: it never comes
    assert progress.admit(0, 4) is Admission.STALE  # read again from 3, the consumer delivers 4 again: stuck


def test_a_reading_lost_after_the_consumer_delivered_it_is_still_a_gap_and_read_again():
    """faust dropped 5 between the consumer and the agent: the consumer did deliver it (no step)."""
    steps = ConsumerSteps("readings")
    progress = SourceProgress(Store({progress_key(0): 3}), steps)
    steps.fetched(0, [4, 5, 6], steps.seeks(0))
    assert progress.admit(0, 4) is Admission.PROCESS
    assert progress.admit(0, 6) is Admission.GAP and progress.rewinds() == {0: 5}
    steps.sought(0, 5)  # the transport reports the seek back
    steps.fetched(0, [5, 6], steps.seeks(0))
    assert progress.admit(0, 6) is Admission.STALE  # queued from before the seek
    assert [progress.admit(0, o) for o in (5, 6)] == [Admission.PROCESS] * 2


def test_after_a_rewind_onto_a_marker_the_first_reading_the_consumer_delivers_from_there_counts():
    """A failed batch is read again from applied + 1, which is a marker: the consumer, sought there,
    delivers the reading after it; what was queued before the seek is dropped."""
    steps = ConsumerSteps("readings")
    progress = SourceProgress(Store({progress_key(0): 9}), steps)
    steps.sought(0, 10)  # assigned: faust seeks to the committed offset, applied + 1
    steps.fetched(0, [11, 12], steps.seeks(0))  # 10 is the marker: a step
    assert progress.admit(0, 11) is Admission.STEP
    progress.confirm_step(0, 11)
    assert progress.abandon({0}) == {0: 10}
    assert progress.admit(0, 12) is Admission.STALE  # queued before the seek, not re-read from 10
    steps.sought(0, 10)
    steps.fetched(0, [11, 12], steps.seeks(0))
    assert progress.admit(0, 11) is Admission.STEP
    progress.confirm_step(0, 11)
    assert progress.admit(0, 12) is Admission.PROCESS


def test_a_step_the_broker_does_not_confirm_is_a_gap_and_the_readings_are_read_again():
    """A rewind seek raced a fetch: the steps say the consumer went from 664 to 791 without handing out
    anything, but it did hand out 664..790 (faust dropped them behind its read offset). Read from 664,
    the broker gives 664: not a step. Skipping them lost half an hour of readings in a scale run."""
    steps = ConsumerSteps("readings")
    progress = SourceProgress(Store({progress_key(9): 663}), steps)
    steps.sought(9, 664)
    steps.fetched(9, [791, 792], steps.seeks(9))
    assert progress.admit(9, 791) is Admission.STEP and progress.claimed_from(9) == 664
    assert progress.refuse_step(9) is Admission.GAP and progress.rewinds() == {9: 664}
    assert progress.admit(9, 792) is Admission.STALE  # still waiting for 664
    assert [progress.admit(9, o) for o in (664, 665)] == [Admission.PROCESS] * 2
    progress.commit()
    assert progress.resume_offset(9) == 666


def test_a_refused_step_while_already_rewound_keeps_waiting():
    steps = ConsumerSteps("readings")
    progress = SourceProgress(Store({progress_key(0): 9}), steps)
    assert progress.admit(0, 12) is Admission.GAP and progress.rewinds() == {0: 10}
    steps.sought(0, 10)
    steps.fetched(0, [12], steps.seeks(0))
    assert progress.admit(0, 12) is Admission.STEP
    assert progress.refuse_step(0) is Admission.STALE and progress.rewinds() == {0: 10}
    assert progress.admit(0, 10) is Admission.PROCESS and progress.rewinds() == {}


def test_a_fetch_that_a_seek_overlapped_is_not_trusted_for_where_it_started():
    steps = ConsumerSteps("readings")
    steps.fetched(0, [0, 1], steps.seeks(0))
    before = steps.seeks(0)
    steps.sought(0, 0)  # while the next fetch was in flight
    steps.fetched(0, [7, 9], before)
    assert steps.stepped_from(0, 7) is None  # unknown: pre-seek or post-seek records
    assert steps.stepped_from(0, 9) == 8  # within one fetch, consecutive deliveries are facts
    steps.fetched(0, [12], steps.seeks(0))
    assert steps.stepped_from(0, 12) is None  # the position after an overlapped fetch is unknown too
    steps.forget()
    steps.fetched(0, [20], steps.seeks(0))
    assert steps.stepped_from(0, 20) is None and steps.stepped_from(0, 9) is None
