"""The offset probe's consumer (started on first use) is stopped when the faust app stops (offset_probe.py)."""

from __future__ import annotations

import faust

from epd_common.kafka import KafkaConnection
from epd_intensity.app.offset_probe import OffsetProbe, stop_with


class _Consumer:
    def __init__(self) -> None:
        self.stopped = 0

    async def stop(self) -> None:
        self.stopped += 1


async def test_the_probe_consumer_stops_with_the_app():
    app = faust.App("probe-stop", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False)
    probe = OffsetProbe(KafkaConnection("127.0.0.1:1", "PLAINTEXT"), "readings", "read_uncommitted")
    consumer = _Consumer()
    probe._consumer = consumer  # as first_from leaves it after the first probe
    stop_with(app, probe)
    await app.on_before_shutdown.send()
    assert consumer.stopped == 1 and probe._consumer is None
    await app.on_before_shutdown.send()  # a probe never used (or stopped already): nothing to stop
    assert consumer.stopped == 1
