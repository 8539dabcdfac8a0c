"""ConsumerLag over a stand-in consumer (no I/O): lag = highwater - position, committed offsets,
revoked partitions' series removed, rate limited, never raises."""

from __future__ import annotations

from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from epd_common.lag import ConsumerLag, lag


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
