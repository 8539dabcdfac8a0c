"""Where the consumer itself stepped over offsets of the source topic: for a delivered reading, the
consumer's position when it delivered it (the offset it was reading from).

Kafka offsets are not contiguous in what a consumer delivers: a transaction's commit or abort marker
takes an offset no consumer ever delivers, a read_committed consumer skips aborted records, compaction
and retention remove records. So "the reading after N is N + 1" is not a rule; the consumer's position
is. When the consumer, reading from position P, hands out reading M > P, nothing deliverable lies in
[P, M): those offsets can never come, and waiting for them froze a partition for good.

The transport (transport.py) reports every fetched batch (``fetched``) and every seek (``sought``);
``SourceProgress`` asks ``stepped_from(partition, M)`` when a reading arrives after a gap. A fetch that a
seek overlapped (the seek counter of its partition moved while it was in flight) is not trusted for its
first reading (where the consumer read it from is unknown), nor for the position after it; consecutive
readings within one fetch always are. What faust loses between the consumer and the agent (a rebalance,
a failed batch) is not stepped over: the consumer did deliver it, so it stays a gap and is read again.

Pure: no faust, no I/O. Only the readings topic is tracked, and only the steps (usually none).
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_STEPS_PER_PARTITION = 10_000  # one per transaction marker waiting to be admitted; the oldest go first


class ConsumerSteps:
    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._next: dict[int, int] = {}  # partition -> the consumer's position after its last delivery
        self._seeks: dict[int, int] = {}  # partition -> seeks so far (a fetch compares before and after)
        self._from: dict[int, dict[int, int]] = {}  # partition -> {offset: position it was delivered from}

    def seeks(self, partition: int) -> int:
        """The partition's seek counter (taken before a fetch, handed back to ``fetched``)."""
        return self._seeks.get(partition, 0)

    def sought(self, partition: int, offset: int | None) -> None:
        """The consumer was sought to ``offset`` (None: somewhere this code does not know)."""
        self._seeks[partition] = self.seeks(partition) + 1
        if offset is None:
            self._next.pop(partition, None)
        else:
            self._next[partition] = offset

    def forget(self) -> None:
        """A rebalance: every position is unknown until the consumer delivers or is sought again."""
        for partition in list(self._seeks) + list(self._next):
            self.sought(partition, None)
        self._from.clear()

    def fetched(self, partition: int, offsets: Iterable[int], seeks_before: int) -> None:
        """The consumer handed out these offsets of ``partition``, in order, in one fetch that started when
        the partition's seek counter was ``seeks_before``."""
        overlapped = self.seeks(partition) != seeks_before
        position = None if overlapped else self._next.get(partition)
        steps = self._from.setdefault(partition, {})
        for offset in offsets:
            if position is not None and position < offset:
                steps[offset] = position
                if len(steps) > MAX_STEPS_PER_PARTITION:
                    del steps[next(iter(steps))]
            position = offset + 1
        if overlapped:
            self._next.pop(partition, None)  # pre-seek or post-seek records: where it stands is unknown
        elif position is not None:
            self._next[partition] = position

    def stepped_from(self, partition: int, offset: int) -> int | None:
        """The position the consumer delivered ``offset`` from, when it stepped over offsets to get there."""
        return self._from.get(partition, {}).get(offset)

    def release(self, partition: int, applied: int) -> None:
        """Readings up to ``applied`` are done: their steps are no longer asked about."""
        steps = self._from.get(partition)
        if steps:
            for offset in [o for o in steps if o <= applied]:
                del steps[offset]
