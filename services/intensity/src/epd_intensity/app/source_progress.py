"""Where the worker stands in each source partition, kept in the state table, not in faust.

Readings must never vanish between the consumer and the state, whatever faust does on a rebalance
or a kill: events waiting in a `take_events` buffer or an agent queue can be dropped on revoke
while the fetch position moves on, and faust acks a whole batch in the generator's cleanup even
when the agent body raised, after which its commit may pass readings never applied. So this
worker does not trust faust's consumer position or its committed offset; it keeps its own:

- per source partition, ``o|<partition>`` in the state table holds the APPLIED offset: every
  reading of that partition at or below it is processed and its state stored. The agent writes it
  after the batch's plant states, to the same changelog partition (processor.py: the changelog is
  a prefix of the writes), so a restarted worker never finds it ahead of the state;
- every reading delivered must be the next one: the next offset (applied + 1, or the one after the
  batch's last), or one the CONSUMER reached from there by stepping over offsets it never delivers
  (consumer_steps.py: transaction markers, aborted or compacted records). Offsets are not contiguous;
  the consumer's position is the rule. Such a step is a claim (STEP) until the caller has read from
  the expected offset itself (offset_probe.py) and found the same first record (`confirm_step`);
  otherwise (`refuse_step`) it is a GAP: a step inferred from a fetch that a seek raced once skipped
  readings the consumer had handed out. A reading further on than that is a GAP: readings the consumer
  delivered were lost before the agent, so the worker seeks the partition back to the next expected
  offset (`rewinds`) and drops what arrives for it (STALE) until the reading the consumer delivers
  from there comes (the expected offset, or the first one past offsets it steps over); a reading at
  or below what is done is REPLAYED (skipped);
- on every assignment (app.py) the group's committed offset is set to applied + 1 before faust
  seeks to it, so a worker starts where the state ends, not where faust's commit happens to be;
- a batch that fails is `abandon`ed: its partitions go back to applied + 1 (sought again).

Ingest writes the readings topic with idempotent, non-transactional producers, but any producer may
be transactional: each transaction ends with a marker at an offset no consumer delivers. Before the
consumer's steps were known, such a marker was a gap that never filled and froze its partition. Data
deleted by retention is detected by the agent (earliest offset above the expected one) and stepped
over with `skip_to`.
Pure: no faust, no I/O (the store is the processor's, a dict in tests).
"""

from __future__ import annotations

from enum import Enum

from .consumer_steps import ConsumerSteps
from .state import Store, progress_key


class Admission(Enum):
    PROCESS = "process"  # the next reading of its partition
    REPLAYED = "replayed"  # at or below what is already done: skip
    GAP = "gap"  # readings missing before it: seek back (`rewinds`), do not process
    STALE = "stale"  # delivered while waiting for a rewound partition's next reading: drop
    STEP = "step"  # past offsets the consumer says it stepped over: `confirm_step` or `refuse_step` first


class SourceProgress:
    def __init__(self, store: Store, steps: ConsumerSteps | None = None) -> None:
        self.store = store
        self.steps = steps  # where the consumer stepped over offsets (None: contiguity is the rule)
        self._applied: dict[int, int | None] = {}  # cache of the stored applied offsets
        self._position: dict[int, int] = {}  # last reading admitted in the open batch
        self._rewind: dict[int, int] = {}  # partition -> the offset it was sought back to
        self._claims: dict[int, int] = {}  # partition -> expected offset of a step not yet confirmed

    def applied(self, partition: int) -> int | None:
        if partition not in self._applied:
            self._applied[partition] = self.store.get(progress_key(partition))
        return self._applied[partition]

    def resume_offset(self, partition: int) -> int | None:
        """Where a worker that is assigned the partition must start (None: nothing applied yet)."""
        applied = self.applied(partition)
        return None if applied is None else applied + 1

    def admit(self, partition: int, offset: int) -> Admission:
        last = self._position.get(partition, self.applied(partition))
        if last is not None and offset <= last:
            return Admission.REPLAYED
        waiting = self._rewind.get(partition)
        expected = waiting if waiting is not None else (None if last is None else last + 1)
        if expected is None or offset == expected:
            self._rewind.pop(partition, None)
            self._position[partition] = offset
            return Admission.PROCESS
        if self._stepped_over(partition, expected, offset):
            self._claims[partition] = expected
            return Admission.STEP
        return self._gap(partition, expected)

    def _gap(self, partition: int, expected: int) -> Admission:
        if partition in self._rewind:
            return Admission.STALE
        self._rewind[partition] = expected
        return Admission.GAP

    def claimed_from(self, partition: int) -> int:
        """The expected offset of the partition's step waiting for `confirm_step` or `refuse_step`."""
        return self._claims[partition]

    def confirm_step(self, partition: int, offset: int) -> None:
        """Read from the expected offset, the broker's first record is `offset`: admit it (PROCESS)."""
        del self._claims[partition]
        self._rewind.pop(partition, None)
        self._position[partition] = offset

    def refuse_step(self, partition: int) -> Admission:
        """The broker holds records the step would skip: a GAP (or STALE while already rewound)."""
        return self._gap(partition, self._claims.pop(partition))

    def _stepped_over(self, partition: int, expected: int, offset: int) -> bool:
        """Whether the consumer reached ``offset`` from at most ``expected`` without delivering anything:
        then nothing deliverable lies between them."""
        start = None if self.steps is None else self.steps.stepped_from(partition, offset)
        return start is not None and start <= expected

    def rewinds(self) -> dict[int, int]:
        """Partitions waiting for a reading they were sought back to: partition -> offset."""
        return dict(self._rewind)

    def skip_to(self, partition: int, offset: int) -> None:
        """The readings before `offset` no longer exist (retention): expect `offset` next."""
        self._position[partition] = offset - 1
        self._rewind[partition] = offset

    def commit(self) -> None:
        """Record the open batch as applied: one write per partition, after the batch's state
        writes (the caller's processor.commit) and on that partition's changelog."""
        select = getattr(self.store, "select_partition", None)
        for partition, offset in sorted(self._position.items()):
            if offset == self._applied.get(partition):
                continue
            if select is not None:
                select(partition)
            self.store[progress_key(partition)] = offset
            self._applied[partition] = offset
            if self.steps is not None:
                self.steps.release(partition, offset)
        self._position.clear()

    def abandon(self, partitions: set[int]) -> dict[int, int | None]:
        """The open batch failed: nothing of it counts. Returns where to seek each of its partitions
        (None: nothing applied yet, the caller seeks to the earliest offset and calls `skip_to`)."""
        self._position.clear()
        self._claims.clear()
        seeks: dict[int, int | None] = {}
        for partition in sorted(partitions):
            applied = self.applied(partition)
            seeks[partition] = None if applied is None else applied + 1
            if applied is not None:
                self._rewind[partition] = applied + 1
        return seeks

    def forget(self) -> None:
        """After a rebalance: the table is the truth (another worker may have moved on)."""
        self._applied.clear()
        self._position.clear()
        self._rewind.clear()
        self._claims.clear()
