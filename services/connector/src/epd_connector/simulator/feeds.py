"""Simulator outputs: serve or send simulated readings the way a plant's systems would.

Each feed takes the plant YAML's bindings, so what it writes is exactly what the connector reads:
an asyncua server exposing every meter node, MQTT publishes, HTTP pushes to a connector, or CSV.
MQTT and HTTP authenticate as a plant's systems would: the plant's broker user over TLS, a push token
(over HTTPS when the URL says so), each verified against the given CA file or the system trust store.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from epd.v1 import telemetry_pb2
from epd_connector.config import PlantConfig


def _iso(ts: Any) -> str:
    return ts.ToDatetime().replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _nest(path: str, value: Any, doc: dict) -> None:
    """Set `value` at a `$.a.b` path (the simple dotted form the simulator writes)."""
    keys = path[2:].split(".") if path.startswith("$.") else []
    cur = doc
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
    if keys:
        cur[keys[-1]] = value


class OpcUaFeed:
    """An asyncua server with one Double variable per meter node id of the plant config."""

    def __init__(self, plant: PlantConfig, endpoint: str) -> None:
        self._plant = plant
        self._endpoint = endpoint
        self._server: Any = None
        self._vars: dict[str, Any] = {}

    async def start(self) -> None:
        from asyncua import Server, ua

        server = Server()
        await server.init()
        server.set_endpoint(self._endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace("urn:epd:simulator")
        obj = await server.nodes.objects.add_object(idx, self._plant.plant_id)
        for m in self._plant.meters:
            if not m.sources.opcua:
                continue
            nid = ua.NodeId.from_string(m.sources.opcua.node_id)
            if nid.NamespaceIndex != idx:
                raise ValueError(f"{m.meter_id}: node {m.sources.opcua.node_id} is not in namespace {idx}")
            var = await obj.add_variable(nid, m.meter_id, 0.0, ua.VariantType.Double)
            # No sample yet: a client must not take the placeholder 0.0 for a measurement.
            await var.write_value(
                ua.DataValue(
                    ua.Variant(0.0, ua.VariantType.Double),
                    StatusCode=ua.StatusCode(ua.UInt32(ua.StatusCodes.BadWaitingForInitialData)),
                )
            )
            self._vars[m.meter_id] = var
        await server.start()
        self._server = server

    async def send(self, readings: Sequence[telemetry_pb2.RawReading]) -> None:
        from asyncua import ua

        for r in readings:
            var = self._vars.get(r.meter_id)
            if var is None:
                continue
            at = r.observed_at.ToDatetime(tzinfo=UTC)
            dv = ua.DataValue(
                ua.Variant(float(r.value), ua.VariantType.Double),
                SourceTimestamp=ua.DateTime.combine(at.date(), at.timetz()),  # asyncua's datetime type
                ServerTimestamp=ua.DateTime.now(UTC),
            )
            await var.write_value(dv)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()


class MqttFeed:
    def __init__(
        self,
        plant: PlantConfig,
        host: str,
        port: int,
        *,
        username: str,
        password: str,
        tls: bool = True,
        ca_file: Path | None = None,
    ) -> None:
        self._plant = plant
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._tls, self._ca_file = tls, ca_file
        self._client: Any = None

    async def start(self) -> None:
        import aiomqtt

        from epd_connector.sources.mqtt import tls_context

        self._client = aiomqtt.Client(
            self._host,
            self._port,
            username=self._username,
            password=self._password,
            tls_context=tls_context(self._ca_file) if self._tls else None,
        )
        await self._client.__aenter__()

    async def send(self, readings: Sequence[telemetry_pb2.RawReading]) -> None:
        for r in readings:
            m = self._plant.meter(r.meter_id)
            if m is None or not m.sources.mqtt:
                continue
            doc: dict = {}
            _nest(m.sources.mqtt.json_path, r.value, doc)
            if m.sources.mqtt.timestamp_path:
                _nest(m.sources.mqtt.timestamp_path, _iso(r.observed_at), doc)
            await self._client.publish(m.sources.mqtt.topic, json.dumps(doc), qos=1)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)


class HttpFeed:
    def __init__(
        self,
        plant: PlantConfig,
        url: str,
        *,
        token: str | None,
        ca_file: Path | None = None,
        client_cert: tuple[Path, Path] | None = None,
    ) -> None:
        self._plant = plant
        self._url = url.rstrip("/") + "/v1/readings"
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._ca_file, self._client_cert = ca_file, client_cert
        self._client: Any = None

    async def start(self) -> None:
        import ssl

        import httpx

        ctx = ssl.create_default_context(cafile=str(self._ca_file) if self._ca_file else None)
        if self._client_cert is not None:
            ctx.load_cert_chain(str(self._client_cert[0]), str(self._client_cert[1]))
        self._client = httpx.AsyncClient(timeout=30, verify=ctx, headers=self._headers)

    async def send(self, readings: Sequence[telemetry_pb2.RawReading]) -> None:
        items = []
        for r in readings:
            m = self._plant.meter(r.meter_id)
            if m is not None and m.sources.http:
                items.append({"field": m.sources.http.field, "value": r.value, "observed_at": _iso(r.observed_at)})
        if items:
            resp = await self._client.post(self._url, json={"readings": items})
            if resp.status_code >= 300:
                raise RuntimeError(f"connector answered {resp.status_code}: {resp.text[:300]}")

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class CsvFeed:
    def __init__(self, plant: PlantConfig, path: Path) -> None:
        self._plant = plant
        self._path = path
        self._columns = {m.meter_id: m.sources.csv.column for m in plant.meters if m.sources.csv}
        self._file: Any = None
        self._writer: Any = None

    async def start(self) -> None:
        self._file = await asyncio.to_thread(open, self._path, "w", newline="", encoding="utf-8")  # closed in stop()
        self._writer = csv.DictWriter(self._file, ["timestamp", *self._columns.values()])
        self._writer.writeheader()

    async def send(self, readings: Sequence[telemetry_pb2.RawReading]) -> None:
        rows: dict[str, dict] = {}
        for r in readings:
            if r.meter_id in self._columns:
                ts = _iso(r.observed_at)
                rows.setdefault(ts, {"timestamp": ts})[self._columns[r.meter_id]] = r.value
        for ts in sorted(rows):
            self._writer.writerow(rows[ts])

    async def stop(self) -> None:
        if self._file is not None:
            self._file.close()
