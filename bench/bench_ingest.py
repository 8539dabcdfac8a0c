"""Ingest throughput (readings/s, signed batches of 100 readings) against a raw aiokafka
consume -> decode -> produce loop on the same broker, in the same run.

The ingest side is the real service loop (IngestService.handle: signature check, validation, unit
normalisation, dedupe, all sends awaited, state + offsets saved in PostgreSQL, offsets committed),
on a throwaway database with every migration applied. The raw loop decodes each batch and produces
one Reading per raw reading, awaiting the sends and committing per poll, with no checks and no state.

Fairness: both sides read the same signed batches (every reading valid, so ingest accepts all of
them), from topics filled before the clock starts and after the consumer has joined its group; the
kinds run interleaved, three rounds, best of each kept. Ingest writes each plant's readings of a poll
as ReadingBatch records (epd.telemetry.readings.v2); the baselines keep the old layout, one Reading per
record (on a topic of the bench's own, as epd.telemetry.readings.v1 was). Three rows: against the plain
loop (keyed `send`, `gather` of the futures), against the same loop using ingest's own send path
(PipelinedSender), and against that loop writing ReadingBatch records as ingest does, so the last
ratio is the cost of the validation and the saved state alone.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import BenchContext, BenchRow

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.db import create_pool
from epd_common.kafka import KafkaConnection, TopicProducer, ensure_topics, make_consumer, make_producer
from epd_common.reading_batches import pack
from epd_connector.config import parse_plant_config
from epd_connector.registration import site_request
from epd_connector.signing import generate_private_key, sign_batch
from epd_devstack.databases import create_migrated_database, drop_database
from epd_footprint import admin, site
from epd_footprint.schemas import OrganisationIn, SiteIn
from epd_ingest.pg_registry import PgPlantRegistry
from epd_ingest.pipeline import IngestConfig
from epd_ingest.sender import PipelinedSender
from epd_ingest.service import IngestService
from epd_ingest.state_store import IngestStateStore

REPO = Path(__file__).resolve().parents[1]
METERS = 10
# The baselines' layout: one Reading per record, as epd.telemetry.readings.v1 carried them.
ONE_PER_RECORD = topics.TopicSpec("epd.telemetry.readings.v1", telemetry_pb2.Reading, "plant_id", 3)


def plant(pid: str):
    return parse_plant_config(
        {
            "plant_id": pid,
            "key_id": "k1",
            "site": {"organisation_id": "bench", "name": pid, "province": "CN-NM", "grid_region": "north"},
            "processes": [{"process_id": f"{pid}/roasting", "name": "Roasting", "stage": "roasting"}],
            "meters": [
                {
                    "meter_id": f"{pid}.m{i}",
                    "process_id": f"{pid}/roasting",
                    "activity_kind": "electricity",
                    "activity": "electricity.grid",
                    "unit": "MWh",
                    "kind": "interval",
                    "sources": {"http": {"field": f"m{i}"}},
                }
                for i in range(METERS)
            ],
        }
    )


STEP_S = 20  # between a meter's readings; n=1000 batches span 56 h, inside ingest's 7-day lateness


def signed_batches(pid: str, key, n: int) -> list[bytes]:
    steps = 100 // METERS
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=STEP_S * n * steps + 3600)
    out = []
    for b in range(n):
        batch = telemetry_pb2.TelemetryBatch(batch_id=f"{pid}-{b}", plant_id=pid, sequence=b)
        for step in range(steps):
            at = base + timedelta(seconds=STEP_S * (b * steps + step))
            for i in range(METERS):
                r = batch.readings.add(
                    meter_id=f"{pid}.m{i}",
                    value=f"{i}.25",
                    unit="MWh",
                    kind=telemetry_pb2.READING_KIND_INTERVAL,
                    quality=telemetry_pb2.READING_QUALITY_GOOD,
                )
                r.observed_at.FromDatetime(at)
        out.append(sign_batch(batch, key, "k1").SerializeToString())
    return out


async def fill(kafka: KafkaConnection, topic: str, pid: str, data: list[bytes]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    futures = [await producer.send(topic, d, key=pid.encode()) for d in data]
    await asyncio.gather(*futures)
    await producer.stop()


async def joined(consumer) -> None:
    """Wait until the consumer owns its partitions (its topic is still empty, so nothing is read)."""
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)


async def ingest_loop(kafka: KafkaConnection, dsn: str, prefix: str, pid: str, data: list[bytes]) -> float:
    pool = await create_pool(dsn, max_size=4)
    registry = PgPlantRegistry(pool)
    await registry.refresh()
    producer, consumer = make_producer(kafka), make_consumer(kafka, f"{prefix}ingest")
    await producer.start()
    await consumer.start()
    service = IngestService(
        consumer,
        TopicProducer(producer),
        registry,
        IngestStateStore(pool, f"{prefix}ingest", IngestConfig()),
        prefix=prefix,
    )
    service.subscribe()
    await joined(consumer)
    await fill(kafka, topics.TELEMETRY_RAW.topic(prefix), pid, data)
    start = time.perf_counter()
    while service.processed < len(data):
        polled = await consumer.getmany(timeout_ms=500, max_records=500)
        if polled:
            await service.handle(polled)
    await service.flush()  # the last save is part of the work
    elapsed = time.perf_counter() - start
    await consumer.stop()
    await producer.stop()
    await pool.close()
    assert service.accepted == len(data) * 100, f"ingest accepted {service.accepted} of {len(data) * 100}"
    return len(data) * 100 / elapsed


async def raw_loop(
    kafka: KafkaConnection, prefix: str, pid: str, data: list[bytes], same_sender: bool, batched: bool = False
) -> float:
    """One Reading per record, unless `batched` (through the PipelinedSender): then each poll's readings
    as ReadingBatch records, as ingest writes them."""
    producer, consumer = (
        make_producer(kafka),
        make_consumer(kafka, f"{prefix}raw", topics.TELEMETRY_RAW.topic(prefix)),
    )
    await producer.start()
    await consumer.start()
    await joined(consumer)
    await fill(kafka, topics.TELEMETRY_RAW.topic(prefix), pid, data)
    out_topic = (topics.TELEMETRY_READINGS if batched else ONE_PER_RECORD).topic(prefix)
    sender = PipelinedSender(producer)
    seen = produced = 0
    start = time.perf_counter()
    while seen < len(data):
        polled = await consumer.getmany(timeout_ms=500, max_records=500)
        futures = []
        polled_readings: list = []
        if same_sender:
            await sender.begin([out_topic])
        for records in polled.values():
            for rec in records:
                signed = telemetry_pb2.SignedTelemetryBatch.FromString(rec.value)
                batch = telemetry_pb2.TelemetryBatch.FromString(signed.batch)
                for r in batch.readings:
                    reading = telemetry_pb2.Reading(
                        plant_id=batch.plant_id,
                        meter_id=r.meter_id,
                        quantity=r.value,
                        unit=r.unit,
                        batch_id=batch.batch_id,
                    )
                    reading.observed_at.CopyFrom(r.observed_at)
                    if batched:
                        polled_readings.append(reading)
                    elif same_sender:
                        await sender.send(out_topic, rec.key, reading.SerializeToString())
                    else:
                        futures.append(await producer.send(out_topic, reading.SerializeToString(), key=rec.key))
                    produced += 1
                seen += 1
        for value in pack(pid, polled_readings):
            await sender.send(out_topic, pid.encode(), value)
        if same_sender:
            await sender.flush()
        else:
            await asyncio.gather(*futures)
        if polled:
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in polled.items()})
    elapsed = time.perf_counter() - start
    await consumer.stop()
    await producer.stop()
    assert produced == len(data) * 100
    return len(data) * 100 / elapsed


KINDS = ("ingest", "raw", "raw-same-sender", "raw-batched")


async def run(ctx: BenchContext) -> list[BenchRow]:
    n = 100 if ctx.quick else 1000
    name = f"bench_ingest_{ctx.run_id}"
    dsn = await create_migrated_database(ctx.pg_dsn, name)
    rates: dict[str, list[float]] = {k: [] for k in KINDS}
    try:
        pool = await create_pool(dsn, max_size=2)  # the registry's writer (the admin API's use case), no HTTP
        try:
            await admin.add_organisation(pool, OrganisationIn(organisation_id="bench", name="Bench"))
            keys = {}
            for rnd in range(3):
                pid = f"bench{ctx.run_id}r{rnd}"
                keys[pid] = generate_private_key()
                body = SiteIn.model_validate(site_request(plant(pid), keys[pid].public_key()))
                await site.register_site(pool, pid, body, "bootstrap")
        finally:
            await pool.close()
        for pid, key in keys.items():  # interleaved, so drift in machine load hits every kind alike
            data = signed_batches(pid, key, n)
            for kind in KINDS:
                prefix = f"{pid}{kind.replace('-', '')}."
                await ensure_topics(
                    ctx.kafka,
                    [topics.TELEMETRY_RAW, topics.TELEMETRY_READINGS, topics.TELEMETRY_REJECTED, ONE_PER_RECORD],
                    replication=topics.SINGLE_BROKER,
                    prefix=prefix,
                )
                if kind == "ingest":
                    rates[kind].append(await ingest_loop(ctx.kafka, dsn, prefix, pid, data))
                else:
                    same, batched = kind != "raw", kind == "raw-batched"
                    rates[kind].append(await raw_loop(ctx.kafka, prefix, pid, data, same, batched))
    finally:
        await drop_database(ctx.pg_dsn, name)
    metric = "readings/s (batches of 100 readings in, ReadingBatch records out)"
    return [
        BenchRow(
            "ingest",
            metric,
            max(rates["ingest"]),
            "raw aiokafka consume->decode->produce loop, one Reading per record",
            max(rates["raw"]),
        ),
        BenchRow(
            "ingest",
            metric,
            max(rates["ingest"]),
            "same raw loop sending through ingest's PipelinedSender, one Reading per record",
            max(rates["raw-same-sender"]),
        ),
        BenchRow(
            "ingest",
            metric,
            max(rates["ingest"]),
            "same raw loop through the PipelinedSender, writing ReadingBatch records as ingest does",
            max(rates["raw-batched"]),
        ),
    ]
