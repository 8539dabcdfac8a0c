"""Shared helpers for connector and ingest integration tests: a small plant, its key and registration
(through the footprint admin API, as `epd connector register-plant` does), the ingest service and the
connector run in-process, and a reader of the output topics."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml
from aiokafka import TopicPartition

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.kafka import KafkaConnection, ensure_topics, make_consumer
from epd_connector.config import load_plant_config
from epd_connector.registration import put_site, site_request
from epd_connector.signing import generate_private_key, private_key_to_pem, sign_batch
from tests.integration.admin_api import TOKEN, running_admin_api

TELEMETRY = [topics.TELEMETRY_RAW, topics.TELEMETRY_READINGS, topics.TELEMETRY_REJECTED]
ORGANISATION = "org-test"


def plant_yaml(tmp: Path, plant_id: str, unique: str, opcua_ns: int = 2, pin_key_id: bool = True) -> Path:
    """Three meters (interval kWh, interval t, counter MJ), each bound on every source; the key id pinned in
    the YAML, or (pin_key_id=False) the key's thumbprint."""

    def meter(mid, kind_name, activity, unit, kind, node, **extra):
        return {
            "meter_id": f"{plant_id}.{mid}",
            "process_id": f"{plant_id}/roasting",
            "activity_kind": kind_name,
            "activity": activity,
            "unit": unit,
            "kind": kind,
            "interval_seconds": 60,
            **extra,
            "sources": {
                "opcua": {"node_id": f"ns={opcua_ns};s={node}"},
                "mqtt": {"topic": f"t{unique}/{plant_id}/{mid}", "json_path": "$.value", "timestamp_path": "$.ts"},
                "csv": {"column": mid},
                "http": {"field": mid},
            },
        }

    doc = {
        "plant_id": plant_id,
        "key_id": f"{plant_id}-k1",
        "site": {
            "organisation_id": ORGANISATION,
            "name": f"Plant {plant_id}",
            "province": "CN-NM",
            "grid_region": "north",
        },
        "processes": [{"process_id": f"{plant_id}/roasting", "name": "Roasting", "stage": "roasting"}],
        "batching": {"max_readings": 100, "max_age_seconds": 0.3},
        "spool": {"path": str(tmp / f"{plant_id}.spool.sqlite3"), "max_bytes": 64 * 1024 * 1024},
        "meters": [
            meter("electricity", "electricity", "electricity.grid", "MWh", "interval", "El"),
            meter("h2so4", "reagent", "reagent.h2so4", "t", "interval", "Acid"),
            meter("steam", "steam", "steam.purchased", "MJ", "counter", "Steam", rollover="100000000"),
        ],
    }
    if not pin_key_id:
        del doc["key_id"]
    path = tmp / f"{plant_id}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


async def register(dsn: str, plant_path: Path, tmp: Path) -> Path:
    """Register the plant with a fresh key through the admin API (its organisation first, if missing), with
    the request `epd connector register-plant` sends; returns the private key file."""
    async with running_admin_api(dsn) as url:
        return await register_at(url, plant_path, tmp)


async def register_at(url: str, plant_path: Path, tmp: Path) -> Path:
    """`register` through an admin API already running at `url`."""
    plant = load_plant_config(plant_path)
    key = generate_private_key()
    key_file = tmp / f"{plant.plant_id}.key"
    key_file.write_bytes(private_key_to_pem(key))
    body = site_request(plant, key.public_key())
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        org = await client.post("/organisations", json={"organisation_id": ORGANISATION, "name": "Test org"})
        assert org.status_code in (201, 409), org.text

    def put() -> httpx.Response:  # the CLI's synchronous client, off the loop that serves the API
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            return put_site(client, plant.plant_id, body)

    resp = await asyncio.to_thread(put)
    assert resp.status_code == 200, resp.text
    return key_file


async def push(port: int, at: datetime, values: dict[str, str], token: str) -> None:
    """One HTTP push of readings observed at `at` to the connector's HTTP source, with the plant's
    push credential (inputs_support.push_credential)."""
    async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        resp = await client.post(
            f"http://127.0.0.1:{port}/v1/readings", json={"observed_at": at.isoformat(), "values": values}
        )
    assert resp.status_code == 202, resp.text


def signed(
    plant_id: str, key, key_id: str, readings, batch_id: str | None = None, created_at: datetime | None = None
) -> bytes:
    """A raw-topic record: the batch of `readings`, created now (or at `created_at`), signed by `key`."""
    batch = telemetry_pb2.TelemetryBatch(batch_id=batch_id or str(uuid.uuid4()), plant_id=plant_id, readings=readings)
    batch.created_at.FromDatetime(created_at or datetime.now(UTC))
    return sign_batch(batch, key, key_id).SerializeToString()


def electricity_reading(plant_id: str, at: datetime, value: str = "1") -> telemetry_pb2.RawReading:
    """One good interval reading of the plant's electricity meter (plant_yaml), observed at `at`."""
    r = telemetry_pb2.RawReading(
        meter_id=f"{plant_id}.electricity",
        value=value,
        unit="MWh",
        kind=telemetry_pb2.READING_KIND_INTERVAL,
        quality=telemetry_pb2.READING_QUALITY_GOOD,
    )
    r.observed_at.FromDatetime(at)
    return r


async def wait_http(port: int, within: float = 60.0) -> None:
    """Until the connector's HTTP source answers its health check."""
    async with httpx.AsyncClient() as client, asyncio.timeout(within):
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_ingest(
    kafka: KafkaConnection, dsn: str, prefix: str, group: str, refresh_seconds: float = 1.0
) -> AsyncIterator[None]:
    from epd_ingest.__main__ import serve
    from epd_ingest.settings import IngestSettings

    settings = IngestSettings(
        **kafka.settings_fields(),
        pg_dsn=dsn,
        topic_prefix=prefix,
        consumer_group=group,
        registry_refresh_seconds=refresh_seconds,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        yield
        assert not task.done(), f"ingest stopped early: {task.exception() if task.done() else ''}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


@contextlib.asynccontextmanager
async def running_connector(**settings_kw) -> AsyncIterator[object]:
    from epd_connector.__main__ import build_runtime, serve
    from epd_connector.settings import ConnectorSettings

    settings = ConnectorSettings(**settings_kw)
    rt = build_runtime(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop, runtime=rt))
    try:
        yield rt
        assert not task.done(), f"connector stopped early: {task.exception() if task.done() else ''}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        rt.close()


def decoded(spec, records) -> list:
    """The records' messages; for the readings topic, the readings its batches carry (in order)."""
    messages = [spec.decode(r.value) for r in records]
    if spec.message_type is telemetry_pb2.ReadingBatch:
        return [reading for batch in messages for reading in batch.readings]
    return messages


async def read_topic(kafka: KafkaConnection, spec, prefix: str, group: str, until, within: float = 60.0) -> list:
    """Decode records of one topic from the start until `until(records)` holds or `within` seconds
    have passed; returns what arrived either way."""
    consumer = make_consumer(kafka, group, spec.topic(prefix))
    await consumer.start()
    out: list = []
    try:
        async with asyncio.timeout(within):
            while not until(out):
                for recs in (await consumer.getmany(timeout_ms=500)).values():
                    out.extend(decoded(spec, recs))
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return out


async def settle(kafka: KafkaConnection, spec, prefix: str, group: str, expected: int, within: float = 60.0) -> list:
    """Read until `expected` records arrived, then a little longer to catch any surplus (duplicates)."""
    got = await read_topic(kafka, spec, prefix, group, lambda rs: len(rs) >= expected, within)
    more = await read_topic(kafka, spec, prefix, group + "-extra", lambda rs: len(rs) > len(got), 3.0)
    return more if len(more) > len(got) else got


async def read_to_end(kafka: KafkaConnection, spec, prefix: str, within: float = 60.0) -> list:
    """Every record of one topic up to its end offsets at the time of the call: what is there, without
    waiting for what may still come."""
    consumer = make_consumer(kafka, None)
    await consumer.start()
    out: list = []
    try:
        topic = spec.topic(prefix)
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or range(spec.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        async with asyncio.timeout(within):
            while any([await consumer.position(tp) < end[tp] for tp in parts]):
                for recs in (await consumer.getmany(*parts, timeout_ms=500)).values():
                    out.extend(decoded(spec, recs))
    finally:
        await consumer.stop()
    return out


def by_meter_time(readings: list[telemetry_pb2.Reading]) -> list[tuple[str, int]]:
    return [(r.meter_id, r.observed_at.seconds * 1_000_000_000 + r.observed_at.nanos) for r in readings]


async def create_topics(kafka: KafkaConnection, prefix: str) -> None:
    await ensure_topics(kafka, TELEMETRY, replication=topics.SINGLE_BROKER, prefix=prefix)
