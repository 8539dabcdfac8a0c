"""Readings from every connector source (CSV files, HTTP push with a push token, a real Mosquitto over
TLS as the plant's broker user, real asyncua server) arrive signed on the raw topic and, through the
ingest service, normalised on the readings topic."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from inputs_support import push_credential, secured_broker
from prometheus_client import REGISTRY
from telemetry_support import create_topics, plant_yaml, read_topic, register, running_connector, running_ingest

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_connector import metrics
from epd_connector.config import load_plant_config
from epd_connector.mqtt_access import plant_user
from epd_connector.simulator.feeds import CsvFeed, HttpFeed, MqttFeed, OpcUaFeed

# meter -> (sent values in the meter's unit, expected quantities in the canonical unit)
SENT = {
    "electricity": (["1.5", "2", "0.25"], "kWh", ["1500", "2000", "250"]),
    "h2so4": (["0.25", "0.5", "1"], "kg", ["250", "500", "1000"]),
    "steam": (["1000", "1500", "4000"], "GJ", ["0", "0.5", "2.5"]),
}  # counter: baseline, then deltas


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_readings(plant_id: str) -> tuple[list[list[telemetry_pb2.RawReading]], list[datetime]]:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    steps, times = [], []
    for i in range(3):
        at = base + timedelta(minutes=i)
        times.append(at)
        step = []
        for name, (values, _, _) in SENT.items():
            r = telemetry_pb2.RawReading(meter_id=f"{plant_id}.{name}", value=values[i])
            r.observed_at.FromDatetime(at)
            step.append(r)
        steps.append(step)
    return steps, times


async def wait_connected(source: str) -> None:
    async with asyncio.timeout(20):
        # A gauge set by the source: polled, nothing to await.
        while REGISTRY.get_sample_value("epd_connector_source_connected", {"source": source}) != 1:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


def check_normalised(readings: list[telemetry_pb2.Reading], plant_id: str, times: list[datetime]) -> None:
    stamps = {int(t.timestamp()) for t in times}
    ours = [r for r in readings if r.observed_at.seconds in stamps]
    got = {(r.meter_id, r.observed_at.seconds): r for r in ours}
    assert len(got) == len(ours) == 9, f"{len(ours)} readings, {len(got)} distinct"
    for name, (_, unit, expected) in SENT.items():
        for t, want in zip(times, expected, strict=True):
            r = got[(f"{plant_id}.{name}", int(t.timestamp()))]
            assert r.unit == unit and Decimal(r.quantity) == Decimal(want), (name, r.quantity, r.unit)
            assert r.plant_id == plant_id and r.process_id == f"{plant_id}/roasting" and len(r.reading_id) == 32


@pytest.mark.parametrize("source", ["files", "http", "mqtt", "opcua"])
async def test_source_readings_arrive_normalised(source, kafka, fresh_db, topic_prefix, unique, tmp_path):
    plant_id = f"p{unique[:6]}-{source}"
    path = plant_yaml(tmp_path, plant_id, unique)
    plant = load_plant_config(path)
    key_file = await register(fresh_db, path, tmp_path)
    await create_topics(kafka, topic_prefix)
    steps, times = raw_readings(plant_id)
    port = free_port()
    kw = dict(
        **kafka.settings_fields(),
        topic_prefix=topic_prefix,
        plant_config=path,
        key_file=key_file,
        sources=source,
        http_port=port,
        opcua_url=f"opc.tcp://127.0.0.1:{port}/epd/",
    )
    token = None
    broker = None
    inputs = contextlib.ExitStack()
    if source == "http":
        kw["http_credentials_file"], token = push_credential(tmp_path, plant_id)
    elif source == "mqtt":
        broker = inputs.enter_context(secured_broker(tmp_path, [plant_user(plant)]))
        env = broker.client_env(plant_id)
        kw.update(
            mqtt_port=broker.port,
            mqtt_username=plant_id,
            mqtt_password=env["EPD_CONNECTOR_MQTT_PASSWORD"],
            mqtt_ca_file=broker.ca.cert_file,
        )
    feed = None
    if source == "files":
        csv_feed = CsvFeed(plant, tmp_path / "replay.csv")
        await csv_feed.start()
        for step in steps:
            await csv_feed.send(step)
        await csv_feed.stop()
        kw["files_path"] = tmp_path / "replay.csv"
    elif source == "opcua":
        feed = OpcUaFeed(plant, kw["opcua_url"])
        await feed.start()
    metrics.SOURCE_CONNECTED.labels(source).set(0)
    try:
        async with running_ingest(kafka, fresh_db, topic_prefix, f"ingest-{unique}"), running_connector(**kw):
            if source == "http":
                feed = HttpFeed(plant, f"http://127.0.0.1:{port}", token=token)
                await feed.start()
                await _wait_http(port)
            elif source == "mqtt":
                await wait_connected("mqtt")
                assert broker is not None
                feed = MqttFeed(
                    plant,
                    "127.0.0.1",
                    broker.port,
                    username=plant_id,
                    password=broker.password(plant_id),
                    ca_file=broker.ca.cert_file,
                )
                await feed.start()
            elif source == "opcua":
                await wait_connected("opcua")
            if feed is not None:
                for step in steps:
                    await feed.send(step)
                    await asyncio.sleep(0.5 if source == "opcua" else 0)  # one data change per publish cycle
            stamps = {int(t.timestamp()) for t in times}
            readings = await read_topic(
                kafka,
                topics.TELEMETRY_READINGS,
                topic_prefix,
                f"read-{unique}",
                lambda rs: sum(r.observed_at.seconds in stamps for r in rs) >= 9,
            )
            raw = await read_topic(
                kafka, topics.TELEMETRY_RAW, topic_prefix, f"raw-{unique}", lambda rs: len(rs) >= 1, 10
            )
    finally:
        if feed is not None and source != "files":
            await feed.stop()
        inputs.close()  # the broker of the mqtt case
    assert raw and all(len(b.signature) == 64 and b.plant_id == plant_id for b in raw)
    check_normalised(readings, plant_id, times)


async def _wait_http(port: int) -> None:
    import httpx

    async with httpx.AsyncClient() as client, asyncio.timeout(20):
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
