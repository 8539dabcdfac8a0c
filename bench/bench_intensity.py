"""Intensity processor: readings/s through the faust worker (subprocess, real broker), fed ReadingBatch
records of READINGS_PER_RECORD readings as ingest writes them (epd.telemetry.readings.v2), against a
bare aiokafka consume -> decode -> produce loop with one Reading per record (the v1 layout, on a topic
of the bench's own) over the same readings on the same broker in the same run, and against the same
Processor driven by such a loop, per reading and over the same batched records (what faust and the
durable state cost);
and the memory the worker's state table holds for 30-day rolling windows, against the same hourly
data in a plain dict.

State memory: the worker's table as the worker builds it (a faust memory-store Table named and
serialized as app.py's, behind the real TableStore, filled by the real Processor with a commit
every 500 readings, as the agent's batches do; the changelog send is a stub, its queue dropped).
Plants are copies of the example chain (6 processes each) with every meter read once an hour for
34 days, so the table reaches its steady state (31 days held, older days dropped). Measured with
tracemalloc as what stays allocated once the Processor and its caches are gone (the table's keys
and values; faust's app and the empty table are made before tracing), scaled to 1,000 processes
(state is per process; ~1,000 processes through the real path would take tens of minutes under
tracemalloc). Baseline: the hourly totals of the same days the table holds, same run, one compact
JSON text (state.totals_to_text) per process-hour in a plain dict.

Both loops poll 500 records at a time (the project's consumer default), as the worker takes batches
of up to 500; the kinds run interleaved, three rounds, best of each kept."""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from harness import BenchContext, BenchRow

from epd.v1 import telemetry_pb2
from epd_common.kafka import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, KafkaConnection, ensure_topics
from epd_common.reading_batches import unpack
from epd_common.topics import INTENSITY_WINDOWS, SINGLE_BROKER, TELEMETRY_READINGS, TopicSpec
from epd_intensity.app.app import STATE_TABLE
from epd_intensity.app.processor import Processor
from epd_intensity.app.state import totals_to_text
from epd_intensity.app.table_store import TableStore
from epd_intensity.factors import load_library
from epd_intensity.processes import load_processes, parse_processes

ROOT = Path(__file__).parents[1]
sys.path[:0] = [str(ROOT / "tests/unit/intensity"), str(ROOT / "tests/integration/intensity")]
from intensity_builders import at, reading  # noqa: E402
from intensity_day import EXAMPLE_CONFIG, METERS, plant_day  # noqa: E402
from intensity_worker import Worker, produce  # noqa: E402

# Readings per ReadingBatch record: a connector batch of one plant (ingest sends a poll's readings of a
# plant together, so a backlog gives bigger records than this, up to reading_batches.MAX_BATCH_BYTES).
READINGS_PER_RECORD = 100
# The baseline's layout: one Reading per record, as epd.telemetry.readings.v1 carried them.
ONE_PER_RECORD = TopicSpec("epd.telemetry.readings.v1", telemetry_pb2.Reading, "plant_id", 3)


def readings(days: int) -> list:
    """Consecutive test plant-days of one plant (late, too-late, resent and bad readings included).
    Each test day ends with a next-morning reading that closes it; only the last day keeps it, as
    in-between it would make the next day's first hours too late (a storm no plant produces)."""
    out = []
    for d in range(days):
        day = plant_day(seed=d, day=f"2024-03-{d + 10:02d}")
        out += day if d == days - 1 else day[:-1]
    return out


async def worker_rate(kafka: KafkaConnection, prefix: str, data: list) -> float:
    """The whole backlog is produced first; the rate is taken from the first readings the worker reports
    handled (start-up and recovery excluded) to the last, from its /metrics."""
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=prefix)
    await produce(kafka, prefix, data, READINGS_PER_RECORD)
    with tempfile.TemporaryDirectory() as tmp:
        worker = Worker(kafka, prefix, Path(tmp), batch_max=None)  # the service's default batches
        worker.start()
        try:
            first_t = first_n = None
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and worker.alive():
                n = worker.readings_seen()
                if n and first_t is None:
                    first_t, first_n = time.perf_counter(), n  # exclude start-up and recovery
                if n >= len(data):
                    return (n - first_n) / (time.perf_counter() - first_t)
                # Each scrape of /metrics takes the worker's CPU (its metrics thread shares the GIL):
                # scrape often until the first readings are counted and near the end (the two times
                # the polling interval blurs), rarely in between.
                await asyncio.sleep(0.05 if first_t is None or n >= 0.85 * len(data) else 0.4)
            raise RuntimeError(f"worker did not finish: {worker.log.read_text()[-2000:]}")
        finally:
            worker.stop()


async def produce_one_per_record(kafka: KafkaConnection, prefix: str, data: list) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), **PRODUCER_DEFAULTS)
    await producer.start()
    try:
        topic = ONE_PER_RECORD.topic(prefix)
        futures = [await producer.send(topic, ONE_PER_RECORD.encode(r), key=r.plant_id.encode()) for r in data]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_rate(
    kafka: KafkaConnection, prefix: str, data: list, with_processor: bool = False, batched: bool = False
) -> float:
    """Consume, decode each Reading, produce one record per reading (pipelined), commit per batch.
    `with_processor`: instead, run each reading through the worker's Processor (state in a dict,
    no changelog) and produce what it emits (windows; corrections to the same topic), the work of
    the faust worker without faust and without durable state. One Reading per record, unless `batched`:
    then the worker's own input, ReadingBatch records of READINGS_PER_RECORD readings."""
    source = TELEMETRY_READINGS if batched else ONE_PER_RECORD
    await ensure_topics(kafka, (source, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=prefix)
    if batched:
        await produce(kafka, prefix, data, READINGS_PER_RECORD)
    else:
        await produce_one_per_record(kafka, prefix, data)
    producer = AIOKafkaProducer(**kafka.client_kwargs(), **PRODUCER_DEFAULTS)
    consumer = AIOKafkaConsumer(
        source.topic(prefix), **kafka.client_kwargs(), group_id=prefix + "raw", **CONSUMER_DEFAULTS
    )
    await producer.start()
    await consumer.start()
    processor = Processor(load_processes(EXAMPLE_CONFIG), load_library(), {}) if with_processor else None
    out = INTENSITY_WINDOWS.topic(prefix)
    try:
        seen, start = 0, None
        while seen < len(data):
            batch = await consumer.getmany(timeout_ms=500)
            futures = []
            for records in batch.values():
                for r in records:
                    start = start or time.perf_counter()
                    for reading in unpack(r.value).readings if batched else (ONE_PER_RECORD.decode(r.value),):
                        seen += 1
                        if processor is None:
                            futures.append(await producer.send(out, r.value, key=reading.process_id.encode()))
                            continue
                        step = processor.handle(reading, r.partition, r.offset)
                        for window in step.windows:
                            futures.append(
                                await producer.send(
                                    out, INTENSITY_WINDOWS.encode(window), key=window.process_id.encode()
                                )
                            )
                        if step.correction is not None:
                            body = reading.SerializeToString(deterministic=True)
                            futures.append(await producer.send(out, body, key=r.key))
            await asyncio.gather(*futures)
            if processor is not None:
                processor.commit()
            if batch:
                await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batch.items()})
        return seen / (time.perf_counter() - start)
    finally:
        await consumer.stop()
        await producer.stop()


STATE_DAYS = 34  # 31 days held + the allowed lateness + days dropped: the table's steady state


def state_config(plants: int) -> dict:
    """`plants` copies of the example chain (6 processes each), as the worker loads its config."""
    text = EXAMPLE_CONFIG.read_text()
    processes: dict = {}
    for k in range(plants):
        processes |= parse_processes(text.replace("baotou-1", f"plant-{k}"))
    return processes


def state_readings(plants: int, days: int = STATE_DAYS) -> list:
    """Every meter of every plant read once an hour (random second in the hour, in event-time order
    per hour), quantities around the example day's."""
    rng = random.Random(20240301)
    start = at("2024-03-01T00:00:00")
    out, n = [], 0
    for hour in range(days * 24):
        base = start + timedelta(hours=hour)
        for k in range(plants):
            items = []
            for pid, meters in METERS.items():
                for activity, typical in meters:
                    qty = f"{typical * 6 * rng.uniform(0.8, 1.2):.3f}"
                    items.append((rng.randrange(3600), pid.replace("baotou-1", f"plant-{k}"), activity, qty))
            for sec, pid, activity, qty in sorted(items):
                n += 1
                when = (base + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")
                out.append(reading(pid, activity, qty, when, reading_id=f"s{n}"))
    return out


class _HourRecorder(Processor):
    """The Processor, keeping each process-hour's latest totals (for the baseline's data only)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hours: dict = {}

    def _emit_hour(self, plant, key, watermark, step) -> None:
        super()._emit_hour(plant, key, watermark, step)
        pid, hour = key
        self.hours[key] = self._days[(pid, hour.replace(hour=0))].hours[hour]


def _empty_table() -> tuple[faust.Table, TableStore]:
    """The worker's table (as app.py declares it) behind the real TableStore, changelog stubbed."""
    app = faust.App("bench-intensity-state", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False)
    table = app.Table(
        STATE_TABLE, default=None, partitions=4, schema=faust.Schema(key_serializer="json", value_serializer="json")
    )

    async def no_changelog(partition: int, key: str, value) -> None:
        raise AssertionError("the bench drops the queue instead")

    return table, TableStore(table, no_changelog)


def _fill(processor_class, processes: dict, library, data: list, table, store):
    """Fill the table through `processor_class` (commits every 500 readings, as the agent's batches)."""
    processor = processor_class(processes, library, store)
    for i, r in enumerate(data):
        processor.handle(r, 0, i)
        if i % 500 == 499 or i == len(data) - 1:
            processor.commit()
            store._queued.clear()  # durable() would send these and wait for their acks
    return table, processor


def state_memory(plants: int) -> tuple[float, float, int, int, int]:
    """(table bytes, plain-dict bytes, processes, table keys, process-hours) of the same held days."""
    processes, library = state_config(plants), load_library()
    data = state_readings(plants)
    table, store = _empty_table()  # faust's app and an empty table: not state, made before tracing
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        table, processor = _fill(Processor, processes, library, data, table, store)
        del processor
        gc.collect()
        table_bytes = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    held_days = {tuple(k.split("|")[1:]) for k in table.data if k.startswith("d|")}
    n_keys = len(table.data)
    del table, store
    _, recorder = _fill(
        _HourRecorder, processes, library, data, *_empty_table()
    )  # untraced: only the hourly totals are kept
    totals = {k: t for k, t in recorder.hours.items() if (k[0], k[1].replace(hour=0).isoformat()) in held_days}
    del recorder
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        plain = {f"{pid}|{hour.isoformat()}": totals_to_text(t) for (pid, hour), t in totals.items()}
        plain_bytes = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del plain
    return table_bytes, plain_bytes, len(processes), n_keys, len(totals)


async def run(ctx: BenchContext) -> list[BenchRow]:
    # Twenty plant-days (~67,000 readings) so each side runs for seconds, not fractions of one: shorter
    # runs measured broker warm-up and group start more than either loop.
    days = 1 if ctx.quick else 20
    data = readings(days)
    w, r, p, pb = [], [], [], []
    for rnd in range(1 if ctx.quick else 3):
        w.append(await worker_rate(ctx.kafka, f"bench{ctx.run_id}r{rnd}w.", data))
        r.append(await raw_rate(ctx.kafka, f"bench{ctx.run_id}r{rnd}raw.", data))
        p.append(await raw_rate(ctx.kafka, f"bench{ctx.run_id}r{rnd}proc.", data, with_processor=True))
        pb.append(await raw_rate(ctx.kafka, f"bench{ctx.run_id}r{rnd}procb.", data, with_processor=True, batched=True))
    table_bytes, plain_bytes, processes, keys, hours = state_memory(1 if ctx.quick else 2)
    per_1000 = 1000 / processes / 2**20
    metric = (
        f"readings/s through the faust worker ({len(data)} readings, 1 plant, "
        f"{READINGS_PER_RECORD} readings per ReadingBatch record)"
    )
    return [
        BenchRow(
            "intensity", metric, max(w), "bare aiokafka consume->decode->produce loop, one Reading per record", max(r)
        ),
        BenchRow(
            "intensity",
            metric,
            max(w),
            "same Processor in a bare aiokafka loop, one Reading per record (state in a dict, no changelog)",
            max(p),
        ),
        BenchRow(
            "intensity",
            metric,
            max(w),
            "same Processor in a bare aiokafka loop over the same ReadingBatch records (state in a dict, no changelog)",
            max(pb),
        ),
        BenchRow(
            "intensity",
            f"MiB held by the worker's state table per 1,000 processes (real Processor + TableStore, "
            f"{processes} processes x {STATE_DAYS} days of hourly readings, {keys} keys, x1000/{processes})",
            table_bytes * per_1000,
            f"same held days' {hours:,} hourly totals, one compact JSON text per process-hour in a plain dict",
            plain_bytes * per_1000,
            better="lower",
        ),
    ]
