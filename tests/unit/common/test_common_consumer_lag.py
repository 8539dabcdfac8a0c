"""ConsumerLag over a stand-in consumer (no I/O): lag = highwater - position, committed offsets,
revoked partitions' series removed, rate limited, never raises; StallWatch: a consumer that gets nothing
while records wait."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from epd_common.lag import ConsumerLag, ConsumerStalled, StallWatch, lag


class FakeConsumer:
    def __init__(self) -> None:
        self.assigned = {TopicPartition("t", 0): (100, 40, 35), TopicPartition("t", 1): (None, 0, None)}
        self.fail = False

    def assignment(self):
        if self.fail:
            raise RuntimeError("consumer closed")
        return set(self.assigned)

    def highwater(self, tp):
        return self.assigned[tp][0]

    async def position(self, tp):
        return self.assigned[tp][1]

    async def committed(self, tp):
        return self.assigned[tp][2]


def sample(name: str, partition: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"component": "unit-lag", "topic": "t", "partition": partition})


def test_lag_is_none_until_both_ends_are_known():
    assert lag(None, 3) is None and lag(5, None) is None
    assert lag(10, 4) == 6 and lag(4, 10) == 0


async def test_exports_lag_and_committed_and_forgets_revoked_partitions():
    consumer, now = FakeConsumer(), [0.0]
    meter = ConsumerLag("unit-lag", consumer, interval_s=5, clock=lambda: now[0])
    await meter.maybe_update()
    assert sample("epd_consumer_lag_messages", "0") == 60
    assert sample("epd_consumer_committed_offset", "0") == 35
    assert sample("epd_consumer_lag_messages", "1") is None  # no highwater known yet
    consumer.assigned[TopicPartition("t", 0)] = (100, 100, 100)
    await meter.maybe_update()  # within the interval: unchanged
    assert sample("epd_consumer_lag_messages", "0") == 60
    now[0] = 6.0
    del consumer.assigned[TopicPartition("t", 1)]
    consumer.assigned[TopicPartition("t", 1 + 1)] = (7, 2, 2)
    await meter.maybe_update()
    assert sample("epd_consumer_lag_messages", "0") == 0
    assert sample("epd_consumer_lag_messages", "2") == 5
    del consumer.assigned[TopicPartition("t", 0)]
    now[0] = 12.0
    await meter.maybe_update()
    assert sample("epd_consumer_lag_messages", "0") is None and sample("epd_consumer_committed_offset", "0") is None
    consumer.fail, now[0] = True, 18.0
    await meter.maybe_update()  # a failing consumer does not raise
    assert meter.snapshot() == {("t", "2"): 5}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_stalled_only_when_records_wait_and_none_arrived_for_the_whole_stall(caplog):
    consumer, clock = FakeConsumer(), Clock()
    watch = StallWatch("unit-stall", consumer, stall_s=300, clock=clock)
    clock.now = 299.0
    await watch.check()  # not yet: 60 records wait on t/0, but only for 299 s
    watch.progress()  # a poll brought records
    clock.now = 299.0 + 300.0
    with pytest.raises(ConsumerStalled, match=r"unit-stall: 60 records wait on 1 partitions .*300 s"):
        await watch.check()
    assert "task " in caplog.text  # where every task waited, logged before the exit


async def test_never_stalled_when_idle_unassigned_or_positions_unknown():
    consumer, clock = FakeConsumer(), Clock()
    watch = StallWatch("unit-stall", consumer, stall_s=30, clock=clock)
    consumer.assigned = {TopicPartition("t", 0): (100, 100, 100), TopicPartition("t", 1): (None, 0, None)}
    clock.now = 1_000.0
    await watch.check()  # caught up, and a partition whose end is not known: nothing waits
    consumer.assigned = {}
    clock.now = 2_000.0
    await watch.check()  # nothing assigned (a rebalance)

    class Resetting(FakeConsumer):
        async def position(self, tp):
            raise RuntimeError("offset reset in progress")

    stuck = StallWatch("unit-stall", Resetting(), stall_s=30, clock=clock)
    clock.now = 5_000.0
    await stuck.check()  # positions not known: not counted
    # A check that found nothing waiting counts as progress: records that arrive later get a full stall.
    await watch.check()  # at 5,000 s, nothing assigned
    consumer.assigned = {TopicPartition("t", 0): (100, 40, 35)}
    clock.now += 29.0
    await watch.check()
    clock.now += 2.0
    with pytest.raises(ConsumerStalled):
        await watch.check()
