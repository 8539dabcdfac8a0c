"""OPC UA subscription (asyncua client): data changes of the configured nodes become readings.

The reading's timestamp is the value's SourceTimestamp (server time as fallback); a non-good status
maps to READING_QUALITY_BAD/UNCERTAIN so ingest can refuse it with a reason. On connect the server
sends every node's current value; resending one already ingested is dropped by ingest's dedupe.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua

from epd.v1 import telemetry_pb2
from epd_connector import metrics
from epd_connector.config import MeterConfig
from epd_connector.runtime import ConnectorRuntime
from epd_connector.sources.subscription import SubscriptionSource
from epd_connector.sources.values import EdgeError, decimal_text

log = logging.getLogger(__name__)


class OpcUaSource(SubscriptionSource):
    kind = "opcua"

    def __init__(self, runtime: ConnectorRuntime, url: str, *, publishing_interval_ms: int = 200) -> None:
        self._rt = runtime
        self._url = url
        self._interval = publishing_interval_ms
        self._by_node: dict[str, MeterConfig] = {
            m.sources.opcua.node_id: m for m in runtime.plant.meters if m.sources.opcua
        }
        self.subscribed = asyncio.Event()

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            client = Client(self._url, timeout=10)
            try:
                async with client:
                    sub = await client.create_subscription(self._interval, self)
                    nodes = [client.get_node(nid) for nid in self._by_node]
                    await sub.subscribe_data_change(nodes)
                    metrics.SOURCE_CONNECTED.labels("opcua").set(1)
                    self.subscribed.set()
                    backoff = 0.5
                    while True:
                        await asyncio.sleep(1.0)
                        await client.check_connection()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # asyncua raises many types on a lost connection
                metrics.SOURCE_CONNECTED.labels("opcua").set(0)
                self.subscribed.clear()
                log.warning("opcua %s: %s; reconnecting in %.1fs", self._url, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        nid = node.nodeid.to_string()
        meter = self._by_node.get(nid)
        if meter is None:
            return
        dv: ua.DataValue = data.monitored_item.Value
        at = dv.SourceTimestamp or dv.ServerTimestamp or datetime.now(UTC)
        quality = telemetry_pb2.READING_QUALITY_GOOD
        if dv.StatusCode is not None and not dv.StatusCode.is_good():
            quality = (
                telemetry_pb2.READING_QUALITY_UNCERTAIN
                if dv.StatusCode.is_uncertain()
                else telemetry_pb2.READING_QUALITY_BAD
            )
        try:
            reading = self._rt.reading(
                meter, decimal_text(val), at if at.tzinfo else at.replace(tzinfo=UTC), f"opcua:{nid}", quality
            )
        except EdgeError as exc:
            metrics.SOURCE_ERRORS.labels("opcua", "bad_value").inc()
            log.warning("opcua %s: %s", nid, exc)
            return
        await self._rt.submit([reading], "opcua")
