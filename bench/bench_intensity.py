"""Intensity processor: readings/s through the faust worker (subprocess, real broker) against a bare
aiokafka consume -> decode -> produce loop over the same readings on the same broker in the same
run, and against the same Processor driven by such a loop (what faust and the durable state cost);
and the memory of 30-day rolling state per 1,000 active processes against a naive layout.

Both loops poll 500 records at a time (the project's consumer default), as the worker takes batches
of up to 500; the kinds run interleaved, three rounds, best of each kept."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from harness import BenchContext, BenchRow

from epd_common.kafka import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, KafkaConnection, ensure_topics
from epd_common.topics import INTENSITY_WINDOWS, SINGLE_BROKER, TELEMETRY_READINGS
from epd_intensity.app.processor import Processor
from epd_intensity.factors import load_library
from epd_intensity.processes import load_processes

ROOT = Path(__file__).parents[1]
sys.path[:0] = [str(ROOT / "tests/unit/intensity"), str(ROOT / "tests/integration/intensity")]
from intensity_day import EXAMPLE_CONFIG, plant_day  # noqa: E402
from intensity_worker import Worker, produce  # noqa: E402


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
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=prefix)
    await produce(kafka, prefix, data)
    with tempfile.TemporaryDirectory() as tmp:
        worker = Worker(kafka, prefix, Path(tmp))
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
                # Each scrape of /metrics takes the worker's CPU (its metrics thread shares the
                # GIL): scrape rarely while far from the end, often near it (the end time is what
                # the polling interval blurs; the start is taken at a scrape, with its count).
                await asyncio.sleep(0.05 if n >= 0.85 * len(data) else 0.4)
            raise RuntimeError(f"worker did not finish: {worker.log.read_text()[-2000:]}")
        finally:
            worker.stop()


async def raw_rate(kafka: KafkaConnection, prefix: str, data: list, with_processor: bool = False) -> float:
    """Consume, decode each Reading, produce one record per reading (pipelined), commit per batch.
    `with_processor`: instead, run each reading through the worker's Processor (state in a dict,
    no changelog) and produce what it emits (windows; corrections to the same topic), the work of
    the faust worker without faust and without durable state."""
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=prefix)
    await produce(kafka, prefix, data)
    producer = AIOKafkaProducer(**kafka.client_kwargs(), **PRODUCER_DEFAULTS)
    consumer = AIOKafkaConsumer(
        TELEMETRY_READINGS.topic(prefix), **kafka.client_kwargs(), group_id=prefix + "raw", **CONSUMER_DEFAULTS
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
                    reading = TELEMETRY_READINGS.decode(r.value)
                    seen += 1
                    if processor is None:
                        futures.append(await producer.send(out, r.value, key=reading.process_id.encode()))
                        continue
                    step = processor.handle(reading, r.partition, r.offset)
                    for window in step.windows:
                        futures.append(
                            await producer.send(out, INTENSITY_WINDOWS.encode(window), key=window.process_id.encode())
                        )
                    if step.correction is not None:
                        futures.append(await producer.send(out, r.value, key=r.key))
            await asyncio.gather(*futures)
            if processor is not None:
                processor.commit()
            if batch:
                await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batch.items()})
        return seen / (time.perf_counter() - start)
    finally:
        await consumer.stop()
        await producer.stop()


def state_memory(processes: int) -> tuple[float, float]:
    """Bytes of 30-day state per process: the app's layout (per-day sums + hourly roots, as the
    table holds them) vs a naive layout (every hourly totals of 30 days, as compact JSON text)."""
    from epd_intensity.app.state import DayState, totals_to_text

    example = load_processes(EXAMPLE_CONFIG)
    store: dict = {}
    proc = Processor(example, load_library(), store, lateness=timedelta(days=2))  # keep the day's hours
    for i, r in enumerate(plant_day(seed=1)):
        proc.handle(r, 0, i)
        proc.commit()
    hours = [t for k, v in store.items() if k.startswith("d|") for t in DayState.from_dict(v["v"]).hours.values()]
    sample = hours[:24]  # real hourly totals of the example day
    assert len(sample) == 24, len(sample)
    day = DayState(hours={h: t for h, t in zip(range(24), (sample * 24)[:24], strict=True)})

    def measure(build) -> float:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        held = build()
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        del held
        return used / processes

    def app_layout():
        from epd_intensity.core import combine

        compacted = DayState(
            total=totals_to_text(combine(day.hours.values())), roots="".join(t.merkle_root for t in day.hours.values())
        )
        text = json.dumps(compacted.to_dict())  # each table value is decoded on its own: distinct objects
        return {f"d|p{p}|{d}": json.loads(text) for p in range(processes) for d in range(31)}

    def naive():
        texts = [json.dumps(totals_to_text(t)) for t in day.hours.values()]
        return {
            f"h|p{p}|{d}|{h}": json.loads(text)
            for p in range(processes)
            for d in range(31)
            for h, text in enumerate(texts)
        }

    return measure(app_layout), measure(naive)


async def run(ctx: BenchContext) -> list[BenchRow]:
    # Ten plant-days (~33,000 readings) so each side runs for seconds, not fractions of one: shorter
    # runs measured broker warm-up and group start more than either loop.
    days = 1 if ctx.quick else 10
    data = readings(days)
    w, r, p = [], [], []
    for rnd in range(1 if ctx.quick else 3):
        w.append(await worker_rate(ctx.kafka, f"bench{ctx.run_id}r{rnd}w.", data))
        r.append(await raw_rate(ctx.kafka, f"bench{ctx.run_id}r{rnd}raw.", data))
        p.append(await raw_rate(ctx.kafka, f"bench{ctx.run_id}r{rnd}proc.", data, with_processor=True))
    processes = 100 if ctx.quick else 1000
    app_bytes, naive_bytes = state_memory(processes)
    return [
        BenchRow(
            "intensity",
            f"readings/s through the faust worker ({len(data)} readings, 1 plant)",
            max(w),
            "bare aiokafka consume->decode->produce loop",
            max(r),
        ),
        BenchRow(
            "intensity",
            f"readings/s through the faust worker ({len(data)} readings, 1 plant)",
            max(w),
            "same Processor in a bare aiokafka loop (state in a dict, no changelog)",
            max(p),
        ),
        BenchRow(
            "intensity",
            "MiB of 30-day rolling state per 1,000 processes (31 days held)",
            app_bytes * 1000 / 2**20,
            "every hourly totals for 30 days (compact JSON text)",
            naive_bytes * 1000 / 2**20,
            better="lower",
        ),
    ]
