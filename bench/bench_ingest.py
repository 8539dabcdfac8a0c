"""Ingest throughput (readings/s, signed batches of 100 readings) against a raw aiokafka
consume -> decode -> produce loop on the same broker, in the same run.

The ingest side is the real service loop (IngestService.handle: signature check, validation, pint
normalisation, dedupe, all sends awaited, state + offsets saved in PostgreSQL, offsets committed),
on a throwaway database with every migration applied. The raw loop decodes each batch and produces
one Reading per raw reading, awaiting the sends and committing per poll, with no checks and no state.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.db import create_pool
from epd_common.kafka import TopicProducer, ensure_topics, make_consumer, make_producer
from epd_connector.config import parse_plant_config
from epd_connector.registration import PlantSite, register_plant
from epd_connector.signing import generate_private_key, sign_batch
from epd_intensity.ingest.pg_registry import PgPlantRegistry
from epd_intensity.ingest.pipeline import IngestConfig
from epd_intensity.ingest.service import IngestService
from epd_intensity.ingest.state_store import IngestStateStore
from harness import BenchContext, BenchRow

REPO = Path(__file__).resolve().parents[1]
METERS = 10


def plant(pid: str):
    return parse_plant_config({"plant_id": pid, "key_id": "k1", "meters": [
        {"meter_id": f"{pid}.m{i}", "process_id": f"{pid}/roasting", "activity_kind": "electricity",
         "activity": "electricity.grid", "unit": "MWh", "kind": "interval", "sources": {"http": {"field": f"m{i}"}}}
        for i in range(METERS)]})


def signed_batches(pid: str, key, n: int) -> list[bytes]:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    out = []
    for b in range(n):
        batch = telemetry_pb2.TelemetryBatch(batch_id=f"{pid}-{b}", plant_id=pid, sequence=b)
        for step in range(100 // METERS):
            at = base + timedelta(seconds=60 * (b * (100 // METERS) + step))
            for i in range(METERS):
                r = batch.readings.add(meter_id=f"{pid}.m{i}", value=f"{i}.25", unit="MWh",
                                       kind=telemetry_pb2.READING_KIND_INTERVAL, quality=telemetry_pb2.READING_QUALITY_GOOD)
                r.observed_at.FromDatetime(at)
        out.append(sign_batch(batch, key, "k1").SerializeToString())
    return out


async def fill(bootstrap: str, topic: str, pid: str, data: list[bytes]) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    futures = [await producer.send(topic, d, key=pid.encode()) for d in data]
    await asyncio.gather(*futures)
    await producer.stop()


async def ingest_loop(bootstrap: str, dsn: str, prefix: str, n: int) -> float:
    pool = await create_pool(dsn, max_size=4)
    registry = PgPlantRegistry(pool)
    await registry.refresh()
    producer, consumer = make_producer(bootstrap), make_consumer(bootstrap, f"{prefix}ingest")
    await producer.start()
    await consumer.start()
    service = IngestService(consumer, TopicProducer(producer), registry,
                            IngestStateStore(pool, f"{prefix}ingest", IngestConfig()), prefix=prefix)
    service.subscribe()
    start = time.perf_counter()
    while service.processed < n:
        polled = await consumer.getmany(timeout_ms=500, max_records=500)
        if polled:
            await service.handle(polled)
    elapsed = time.perf_counter() - start
    await consumer.stop()
    await producer.stop()
    await pool.close()
    return n * 100 / elapsed


async def raw_loop(bootstrap: str, prefix: str, n: int) -> float:
    producer, consumer = make_producer(bootstrap), make_consumer(bootstrap, f"{prefix}raw",
                                                                 topics.TELEMETRY_RAW.topic(prefix))
    await producer.start()
    await consumer.start()
    out_topic = topics.TELEMETRY_READINGS.topic(prefix)
    seen = 0
    start = time.perf_counter()
    while seen < n:
        polled = await consumer.getmany(timeout_ms=500, max_records=500)
        futures = []
        for records in polled.values():
            for rec in records:
                signed = telemetry_pb2.SignedTelemetryBatch.FromString(rec.value)
                batch = telemetry_pb2.TelemetryBatch.FromString(signed.batch)
                for r in batch.readings:
                    reading = telemetry_pb2.Reading(plant_id=batch.plant_id, meter_id=r.meter_id, quantity=r.value,
                                                    unit=r.unit, batch_id=batch.batch_id)
                    reading.observed_at.CopyFrom(r.observed_at)
                    futures.append(await producer.send(out_topic, reading.SerializeToString(), key=rec.key))
                seen += 1
        await asyncio.gather(*futures)
        if polled:
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in polled.items()})
    elapsed = time.perf_counter() - start
    await consumer.stop()
    await producer.stop()
    return n * 100 / elapsed


async def run(ctx: BenchContext) -> list[BenchRow]:
    n = 100 if ctx.quick else 1000
    name = f"bench_ingest_{ctx.run_id}"
    admin = await asyncpg.connect(ctx.pg_dsn)
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = ctx.pg_dsn.rsplit("/", 1)[0] + f"/{name}"
    try:
        res = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "alembic", "-c",
                                      str(REPO / "db" / "alembic.ini"), "upgrade", "heads"], capture_output=True,
                                      text=True, env=dict(os.environ, EPD_PG_DSN=dsn), cwd=REPO)
        if res.returncode:
            raise RuntimeError(res.stderr[-2000:])
        ingest_rates, raw_rates = [], []
        for rnd in range(1 if ctx.quick else 2):
            pid = f"bench{ctx.run_id}r{rnd}"
            key = generate_private_key()
            conn = await asyncpg.connect(dsn)
            await register_plant(conn, plant(pid), PlantSite("bench", pid, "Inner Mongolia", "north"),
                                 key.public_key())
            await conn.close()
            data = signed_batches(pid, key, n)
            for kind in ("ingest", "raw"):
                prefix = f"{pid}{kind}."
                await ensure_topics(ctx.kafka_bootstrap, [topics.TELEMETRY_RAW, topics.TELEMETRY_READINGS,
                                                          topics.TELEMETRY_REJECTED], prefix=prefix)
                await fill(ctx.kafka_bootstrap, topics.TELEMETRY_RAW.topic(prefix), pid, data)
                if kind == "ingest":
                    ingest_rates.append(await ingest_loop(ctx.kafka_bootstrap, dsn, prefix, n))
                else:
                    raw_rates.append(await raw_loop(ctx.kafka_bootstrap, prefix, n))
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    return [BenchRow("ingest", "readings/s (batches of 100 readings)", max(ingest_rates),
                     "raw aiokafka consume->decode->produce loop", max(raw_rates))]
