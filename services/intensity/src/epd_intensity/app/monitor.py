"""faust's Monitor without its per-message statistics.

faust's Monitor (the sensor behind its own /stats page) updates counters, string lookups and
timestamps for every message and every stream event. This worker reports through its own
Prometheus metrics (metrics.py) and does not serve faust's statistics, so the per-message hooks
do nothing here; offsets, commits, rebalances and the rest keep faust's behaviour. Set with the
documented `Monitor=` app setting.
"""

from __future__ import annotations

from typing import Any

from faust.sensors.monitor import Monitor


class LeanMonitor(Monitor):
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None
