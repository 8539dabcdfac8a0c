"""One simulated plant-day through the real broker and the faust worker (`python -m epd_intensity`
as a subprocess): the oracle's windows exactly; the same final windows when SIGKILLed and restarted,
and when a transactional producer writes the readings (commit markers take offsets no consumer
delivers); bad input gives its documented outcome, a correction record and a metric."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "intensity"))
from intensity_day import EXAMPLE_CONFIG, plant_day
from intensity_worker import CORRECTIONS, Worker, batches, produce, read_all, windows_of

from epd.v1 import telemetry_pb2
from epd_common.kafka import ensure_topics, make_admin
from epd_common.topics import INTENSITY_WINDOWS, SINGLE_BROKER, TELEMETRY_READINGS
from epd_intensity.factors import load_library
from epd_intensity.oracle import compute_windows
from epd_intensity.processes import load_processes


def body(w):
    return w.SerializeToString(deterministic=True)


def final(windows):
    latest = {}
    for w in windows:
        key = (w.process_id, w.size, w.window_start.ToDatetime())
        if key not in latest or w.revision > latest[key].revision:
            latest[key] = w
    return {w.window_id: body(w) for w in latest.values()}


def no_conflicts(windows):
    seen = {}
    for w in windows:
        assert seen.setdefault(w.window_id, body(w)) == body(w), f"conflicting duplicate {w.window_id}"
    return seen


def assert_final_windows_are_the_oracles(records, oracle):
    """No window id sent twice with other bytes, and the latest revision of each window is the oracle's."""
    windows = windows_of(records)
    no_conflicts(windows)
    assert final(windows) == {w.window_id: body(w) for w in oracle.final}


async def second_worker_joins_and_leaves(kafka, topic_prefix, first, second, oracle, second_must_work, idle_s):
    """`first` works through the backlog; `second` joins mid-backlog (a rebalance) and leaves on SIGTERM
    (another); returns every window record once the oracle's count arrived and none came for `idle_s`."""
    try:
        first.start()
        assert await wait_for(lambda: first.readings_seen() > 0, 60, first), first.log.read_text()[-3000:]
        second.start()
        worked = await wait_for(lambda: second.readings_seen() > 0, 60 if second_must_work else 30, second)
        assert worked or not second_must_work, second.log.read_text()[-3000:]
        second.stop()
        return await read_all(
            kafka, INTENSITY_WINDOWS.topic(topic_prefix), expect=len(oracle.final), idle_s=idle_s, timeout_s=240.0
        )
    finally:
        second.stop()
        first.stop()


@pytest.fixture(scope="module")
def day():
    readings = plant_day(seed=11)
    oracle = compute_windows(readings, load_processes(EXAMPLE_CONFIG), load_library())
    return readings, oracle


async def committed_offsets(kafka, group):
    """The group's committed offset per readings partition (one plant: one partition has data)."""
    admin = make_admin(kafka)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {
        tp.partition: meta.offset
        for tp, meta in offsets.items()
        if tp.topic.endswith(TELEMETRY_READINGS.name) and meta.offset >= 0
    }


async def wait_for(predicate, timeout_s=90.0, worker=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if worker is not None and not worker.alive():
            return False
        if predicate():
            return True
        await asyncio.sleep(0.5)
    return False


async def test_plant_day_gives_exactly_the_oracles_windows(kafka, topic_prefix, tmp_path, day):
    readings, oracle = day
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=topic_prefix)
    sent = await produce(kafka, topic_prefix, readings)
    worker = Worker(kafka, topic_prefix, tmp_path / "w")
    worker.start()
    try:
        assert await wait_for(lambda: worker.readings_seen() >= len(readings), worker=worker), worker.log.read_text()[
            -3000:
        ]
        records = await read_all(kafka, INTENSITY_WINDOWS.topic(topic_prefix), expect=len(oracle.history))
        metrics = worker.metrics()
        # faust does not commit the readings topic (acks=False); the worker commits its applied
        # offsets for the group, so consumer lag shows the real backlog: here, none.
        committed = await committed_offsets(kafka, topic_prefix + "intensity")
        deadline = time.monotonic() + 30
        while sum(committed.values()) < sent and time.monotonic() < deadline:
            await asyncio.sleep(1)
            committed = await committed_offsets(kafka, topic_prefix + "intensity")
        assert sum(committed.values()) == sent, committed  # records: each a batch of readings
    finally:
        worker.stop()
    windows = windows_of(records)

    # Per process (the key: one partition each) the emission sequence is exactly the oracle's.
    def per_process(ws):
        out = {}
        for w in ws:
            out.setdefault(w.process_id, []).append(body(w))
        return out

    assert per_process(windows) == per_process(oracle.history)
    assert final(windows) == {w.window_id: body(w) for w in oracle.final}
    assert all(r.key.decode() == w.process_id for r, w in zip(records, windows, strict=True))
    # Every outcome is counted, matching the oracle's counts.
    for outcome in ("accepted", "late_revision", "too_late", "duplicate", "unknown_activity", "unknown_process"):
        assert metrics.get(f'epd_intensity_readings_total{{outcome="{outcome}"}}', 0) == oracle.outcomes[outcome]
    assert metrics["epd_intensity_unknown_activity_total"] == 1
    assert metrics['epd_intensity_factor_missing_total{kind="factor"}'] == oracle.outcomes["factor_missing"] > 0
    assert metrics['epd_intensity_undefined_intensities_total{size="hourly"}'] >= 1
    assert metrics['epd_intensity_late_revisions_total{size="hourly"}'] > 0
    # Too-late and refused readings are in the correction log with their outcome, never dropped.
    corrections = await read_all(kafka, topic_prefix + CORRECTIONS, idle_s=1.0)
    outcomes = Counter(dict(r.headers)["epd-outcome"].decode() for r in corrections)
    assert outcomes == Counter({"too_late": oracle.outcomes["too_late"], "unknown_activity": 1, "unknown_process": 1})
    late_ids = {r.reading_id for r, _ in oracle.corrections}
    # Each correction is the reading's own bytes, not its batch's.
    assert {telemetry_pb2.Reading.FromString(r.value).reading_id for r in corrections} >= late_ids


async def test_sigkilled_worker_restarts_to_the_same_final_windows(kafka, topic_prefix, tmp_path, day):
    readings, oracle = day
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=topic_prefix)
    rng = random.Random(5)
    worker = Worker(kafka, topic_prefix, tmp_path / "w")
    chunks = sorted(rng.sample(range(1, len(readings)), 3))
    produced = 0
    try:
        for cut in [*chunks, len(readings)]:
            await produce(kafka, topic_prefix, readings[produced:cut])
            produced = cut
            worker.start()
            # Kill somewhere while it works through the backlog (or right after recovery).
            await wait_for(lambda: worker.readings_seen() > 0, 60)
            await asyncio.sleep(rng.uniform(0.0, 2.0))
            if cut != len(readings):
                worker.kill()
        records = await read_all(kafka, INTENSITY_WINDOWS.topic(topic_prefix), expect=len(oracle.final), idle_s=6.0)
    finally:
        worker.stop()
    assert_final_windows_are_the_oracles(records, oracle)


async def test_a_second_worker_joining_and_leaving_mid_backlog_loses_no_reading(kafka, topic_prefix, tmp_path, day):
    """Two rebalances while the first worker is mid-batch (no kill): a second member with the same app
    id joins, takes partitions, and leaves on SIGTERM. Readings dropped from faust's buffers on
    revoke would show as final windows missing readings (same ids, other bytes)."""
    readings, oracle = day
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=topic_prefix)
    await produce(kafka, topic_prefix, readings)
    first = Worker(kafka, topic_prefix, tmp_path / "a")
    second = Worker(kafka, topic_prefix, tmp_path / "b")
    records = await second_worker_joins_and_leaves(kafka, topic_prefix, first, second, oracle, False, idle_s=6.0)
    assert_final_windows_are_the_oracles(records, oracle)


PLANTS = 4  # baotou-1 .. baotou-4: readings on several partitions, so a rebalance moves some and keeps some


@pytest.fixture(scope="module")
def plants(tmp_path_factory):
    """Four plants, each the example plant's chain under its own ids with its own day of readings; the
    process configuration file for them and the oracle over all."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    processes = []
    readings = []
    for k in range(1, PLANTS + 1):
        plant = f"baotou-{k}"
        for process in config["processes"]:
            process_id = process["process_id"].replace("baotou-1", plant)
            processes.append({**process, "process_id": process_id, "plant_id": plant})
        for r in plant_day(seed=20 + k):
            r = telemetry_pb2.Reading.FromString(r.SerializeToString())
            r.plant_id = r.plant_id.replace("baotou-1", plant)
            r.process_id = r.process_id.replace("baotou-1", plant)
            readings.append(r)
    path = tmp_path_factory.mktemp("plants") / "processes.yaml"
    path.write_text(yaml.safe_dump({**config, "processes": processes}))
    return path, readings, compute_windows(readings, load_processes(path), load_library())


async def test_a_batch_waiting_for_its_changelog_keeps_its_partitions_until_it_is_durable(
    kafka, topic_prefix, tmp_path, plants
):
    """A broker failing over holds a batch's changelog acknowledgements for seconds while the group
    rebalances. faust waits on revoke only for streams with acks, which this agent's has not: the batch
    went on while faust recovered the table from a changelog that did not have its writes yet, and the
    recovery put older values back in memory under the next batch (same window ids, other figures).
    The first worker here delays its first 10 batches' changelog writes by 2 s each; a second joins
    mid-backlog and leaves: two rebalances while a batch waits, each keeping some partitions with the
    first worker and moving others."""
    config, readings, oracle = plants
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=topic_prefix)
    await produce(kafka, topic_prefix, readings)
    first = Worker(kafka, topic_prefix, tmp_path / "a", changelog_delay_s=2.0, delayed_batches=10)
    second = Worker(kafka, topic_prefix, tmp_path / "b")
    for worker in (first, second):
        worker.env["EPD_INTENSITY_PROCESS_CONFIG"] = str(config)
    records = await second_worker_joins_and_leaves(kafka, topic_prefix, first, second, oracle, True, idle_s=10.0)
    assert_final_windows_are_the_oracles(records, oracle)


async def test_readings_from_a_transactional_producer_are_all_applied(kafka, topic_prefix, tmp_path, day):
    """Four transactions: each commit marker takes an offset of the partition that no consumer delivers. The
    worker's progress follows the consumer's position, so it steps over them instead of waiting for them."""
    readings, oracle = day
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=topic_prefix)
    producer = AIOKafkaProducer(
        **kafka.client_kwargs(), transactional_id=f"{topic_prefix}readings", enable_idempotence=True
    )
    await producer.start()
    try:
        quarter = len(readings) // 4 + 1
        for start in range(0, len(readings), quarter):
            async with producer.transaction():
                for key, value in batches(readings[start : start + quarter]):
                    await producer.send(TELEMETRY_READINGS.topic(topic_prefix), value, key=key)
    finally:
        await producer.stop()
    worker = Worker(kafka, topic_prefix, tmp_path / "w")
    worker.start()
    try:
        seen = await wait_for(lambda: worker.readings_seen() >= len(readings), worker=worker)
        assert seen, f"{worker.readings_seen()} of {len(readings)} readings: {worker.log.read_text()[-2000:]}"
        records = await read_all(kafka, INTENSITY_WINDOWS.topic(topic_prefix), expect=len(oracle.history))
    finally:
        worker.stop()
    assert_final_windows_are_the_oracles(records, oracle)


async def test_a_broken_reading_inside_a_batch_and_a_malformed_record_lose_no_other_reading(
    kafka, topic_prefix, tmp_path, day
):
    """One batch carries a reading whose bytes do not parse, and a record that is no batch at all sits
    between two batches: each is set aside in the correction log with its reason code, and every other
    reading (those of the broken reading's own batch included) gives exactly the oracle's windows."""
    readings, oracle = day
    await ensure_topics(kafka, (TELEMETRY_READINGS, INTENSITY_WINDOWS), replication=SINGLE_BROKER, prefix=topic_prefix)
    records = batches(readings)
    middle = len(records) // 2
    key, value = records[middle]
    frames = telemetry_pb2.ReadingBatchFrames.FromString(value)
    broken = b"\x0a\x05ab"  # a reading id of 5 bytes with 2 present
    frames.readings.insert(len(frames.readings) // 2, broken)
    records[middle] = (key, frames.SerializeToString())
    garbage = b"\xff\xfe\x00garbage"
    records.insert(middle + 1, (key, garbage))
    producer = AIOKafkaProducer(**kafka.client_kwargs())
    await producer.start()
    try:
        for k, v in records:
            await producer.send(TELEMETRY_READINGS.topic(topic_prefix), v, key=k)
        await producer.flush()
    finally:
        await producer.stop()
    worker = Worker(kafka, topic_prefix, tmp_path / "w")
    worker.start()
    try:
        seen = await wait_for(lambda: worker.readings_seen() >= len(readings) + 1, worker=worker)
        assert seen, f"{worker.readings_seen()} of {len(readings) + 1}: {worker.log.read_text()[-2000:]}"
        windows = windows_of(await read_all(kafka, INTENSITY_WINDOWS.topic(topic_prefix), expect=len(oracle.history)))
        metrics = worker.metrics()
    finally:
        worker.stop()
    assert final(windows) == {w.window_id: body(w) for w in oracle.final}
    assert metrics['epd_intensity_readings_total{outcome="undecodable"}'] == 1
    assert metrics['epd_intensity_source_records_total{outcome="malformed"}'] == 1
    corrections = await read_all(kafka, topic_prefix + CORRECTIONS, idle_s=1.0)
    set_aside = {dict(r.headers)["epd-outcome"].decode(): r.value for r in corrections}
    assert set_aside["undecodable"] == broken and set_aside["malformed_batch"] == garbage
