"""MQTT subscription (aiomqtt): JSON payloads, one value per meter at the meter's json_path.

Connects as the plant's broker user over TLS (verified against EPD_CONNECTOR_MQTT_CA_FILE, or the
system trust store); the broker's ACL confines that user to the plant's topics (mqtt_access.py).
Reconnects with backoff; `epd_connector_source_connected{source="mqtt"}` shows the state. A connect
the broker refuses (CONNACK "not authorised", a certificate that does not verify) or a subscription
it refuses is counted in epd_connector_input_refused_total{source="mqtt"} and logged. A payload that
is not JSON, or lacks a meter's path, is counted in epd_connector_source_errors_total and logged; the
other meters bound to the same topic still get their values.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiomqtt

from epd_connector import metrics
from epd_connector.config import MeterConfig, MqttBinding
from epd_connector.push_auth import refused
from epd_connector.runtime import ConnectorRuntime
from epd_connector.sources.subscription import SubscriptionSource
from epd_connector.sources.values import EdgeError, decimal_text, json_path, timestamp

log = logging.getLogger(__name__)


class MqttSource(SubscriptionSource):
    kind = "mqtt"

    def __init__(
        self,
        runtime: ConnectorRuntime,
        host: str,
        port: int,
        *,
        username: str,
        password: str,
        tls: bool = True,
        ca_file: Path | None = None,
        client_id: str | None = None,
    ) -> None:
        self._rt = runtime
        self._host, self._port = host, port
        self._client_id = client_id
        self._username, self._password = username or None, password or None
        self._tls = tls_context(ca_file) if tls else None
        self._by_topic: dict[str, list[tuple[MeterConfig, MqttBinding]]] = {}
        for m in runtime.plant.meters:
            if m.sources.mqtt:
                self._by_topic.setdefault(m.sources.mqtt.topic, []).append((m, m.sources.mqtt))
        self.subscribed = asyncio.Event()

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    self._host,
                    self._port,
                    identifier=self._client_id,
                    username=self._username,
                    password=self._password,
                    tls_context=self._tls,
                ) as client:
                    for topic in self._by_topic:
                        granted = await client.subscribe(topic, qos=1)
                        if any(_code(g) >= 0x80 for g in granted or ()):
                            refused("subscribe_refused", "mqtt")
                            log.error("mqtt: the broker refused %s the subscription to %s", self._username, topic)
                    metrics.SOURCE_CONNECTED.labels("mqtt").set(1)
                    self.subscribed.set()
                    backoff = 0.5
                    async for msg in client.messages:
                        await self.handle(str(msg.topic), bytes(msg.payload) if msg.payload is not None else b"")
            except aiomqtt.MqttError as exc:
                if reason := refusal_reason(exc):
                    refused(reason, "mqtt")
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


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verify the broker's certificate and name (TLS 1.2 or later)."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _code(rc: object) -> int:
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else 0


def refusal_reason(exc: aiomqtt.MqttError) -> str | None:
    """The reason label of a connect the broker (or its certificate) refused; None for other failures."""
    if isinstance(exc, aiomqtt.MqttCodeError) and _code(exc.rc) in (4, 5, 134, 135):
        return "not_authorized"  # MQTT 3.1.1 codes 4/5, MQTT 5 codes 0x86/0x87: bad user, password or grant
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return "tls_failed"
        cause = cause.__cause__ or cause.__context__
    return "tls_failed" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else None
