"""MQTT subscription (aiomqtt): JSON payloads, one value per meter at the meter's json_path.

Reconnects with backoff; `epd_connector_source_connected{source="mqtt"}` shows the state. A payload
that is not JSON, or lacks a meter's path, is counted in epd_connector_source_errors_total and
logged; the other meters bound to the same topic still get their values.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import aiomqtt

from epd_connector import metrics
from epd_connector.config import MeterConfig, MqttBinding
from epd_connector.runtime import ConnectorRuntime
from epd_connector.sources.subscription import SubscriptionSource
from epd_connector.sources.values import EdgeError, decimal_text, json_path, timestamp

log = logging.getLogger(__name__)


class MqttSource(SubscriptionSource):
    kind = "mqtt"

    def __init__(self, runtime: ConnectorRuntime, host: str, port: int, *, client_id: str | None = None) -> None:
        self._rt = runtime
        self._host, self._port = host, port
        self._client_id = client_id
        self._by_topic: dict[str, list[tuple[MeterConfig, MqttBinding]]] = {}
        for m in runtime.plant.meters:
            if m.sources.mqtt:
                self._by_topic.setdefault(m.sources.mqtt.topic, []).append((m, m.sources.mqtt))
        self.subscribed = asyncio.Event()

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with aiomqtt.Client(self._host, self._port, identifier=self._client_id) as client:
                    for topic in self._by_topic:
                        await client.subscribe(topic, qos=1)
                    metrics.SOURCE_CONNECTED.labels("mqtt").set(1)
                    self.subscribed.set()
                    backoff = 0.5
                    async for msg in client.messages:
                        await self.handle(str(msg.topic), bytes(msg.payload) if msg.payload is not None else b"")
            except aiomqtt.MqttError as exc:
                metrics.SOURCE_CONNECTED.labels("mqtt").set(0)
                self.subscribed.clear()
                log.warning("mqtt %s:%d: %s; reconnecting in %.1fs", self._host, self._port, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def handle(self, topic: str, payload: bytes) -> None:
        meters = self._by_topic.get(topic, [])
        try:
            doc = json.loads(payload, parse_float=Decimal, parse_int=Decimal)
        except (ValueError, RecursionError):
            metrics.SOURCE_ERRORS.labels("mqtt", "not_json").inc()
            log.warning("mqtt %s: payload is not JSON (%d bytes)", topic, len(payload))
            return
        readings = []
        for m, b in meters:
            try:
                value = decimal_text(json_path(doc, b.json_path))
                at = timestamp(json_path(doc, b.timestamp_path)) if b.timestamp_path else datetime.now(UTC)
                readings.append(self._rt.reading(m, value, at, f"mqtt:{topic}"))
            except EdgeError as exc:
                metrics.SOURCE_ERRORS.labels("mqtt", "bad_payload").inc()
                log.warning("mqtt %s meter %s: %s", topic, m.meter_id, exc)
        if readings:
            await self._rt.submit(readings, "mqtt")
