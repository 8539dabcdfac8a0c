"""Store-and-forward under failure: Kafka stopped for 30 s while the connector runs, and the connector
SIGKILLed mid-stream and restarted. After ingest, every reading is on the readings topic exactly once
(counted by meter and timestamp)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from telemetry_support import (
    by_meter_time,
    create_topics,
    plant_yaml,
    register,
    running_connector,
    running_ingest,
    settle,
)

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_connector.config import load_plant_config
from epd_connector.simulator.feeds import CsvFeed
from epd_devstack.kafka import KafkaCluster


async def write_csv(plant, path, rows: int) -> set[tuple[str, int]]:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    feed = CsvFeed(plant, path)
    await feed.start()
    expected = set()
    for i in range(rows):
        at = base + timedelta(minutes=i)
        step = []
        for m, value in (
            (f"{plant.plant_id}.electricity", "1.25"),
            (f"{plant.plant_id}.h2so4", "0.5"),
            (f"{plant.plant_id}.steam", str(1000 + 10 * i)),
        ):
            r = telemetry_pb2.RawReading(meter_id=m, value=value)
            r.observed_at.FromDatetime(at)
            step.append(r)
            expected.add((m, int(at.timestamp()) * 1_000_000_000))
        await feed.send(step)
    await feed.stop()
    return expected


def assert_exactly_once(readings, expected) -> None:
    counts = Counter(by_meter_time(readings))
    dupes = {k: n for k, n in counts.items() if n > 1}
    assert not dupes, f"{len(dupes)} duplicated readings"
    assert set(counts) == expected, f"{len(expected - set(counts))} lost, {len(set(counts) - expected)} unexpected"


async def test_kafka_outage_of_30s_loses_and_duplicates_nothing(tmp_path, stack, fresh_db, unique):
    cluster = KafkaCluster(tmp_path / "kafka", nodes=1, broker_port=19792)
    await asyncio.to_thread(cluster.start)
    try:
        pid = f"out{unique[:6]}"
        path = plant_yaml(tmp_path, pid, unique)
        plant = load_plant_config(path)
        key_file = await register(fresh_db, path, tmp_path)
        expected = await write_csv(plant, tmp_path / "replay.csv", 120)
        await create_topics(cluster.connection(), "")
        async with running_connector(
            **cluster.connection().settings_fields(),
            plant_config=path,
            key_file=key_file,
            sources="files",
            files_path=tmp_path / "replay.csv",
            files_rows_per_second=4,
            files_checkpoint_rows=10,
        ) as rt:
            await asyncio.sleep(3)
            # Killed, not stopped: a graceful broker shutdown can take as long as the whole replay on a
            # busy machine, and the replay would then finish before the outage began.
            for node in cluster.nodes:
                await asyncio.to_thread(cluster.stop_node, node, True)
            await asyncio.sleep(30)
            depth_during_outage = await rt.spool_call(rt.spool.depth)
            await asyncio.to_thread(cluster.start)
            async with asyncio.timeout(120):  # the spool is sqlite, emptied by the sender: polled
                while (await rt.spool_call(rt.spool.depth)) or len(rt.batcher):  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
                await asyncio.sleep(2)
                while await rt.spool_call(rt.spool.depth):  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
        assert depth_during_outage > 0  # batches really waited in the spool
        async with running_ingest(cluster.connection(), fresh_db, "", f"ingest-{unique}"):
            readings = await settle(cluster.connection(), topics.TELEMETRY_READINGS, "", f"r-{unique}", len(expected))
        assert_exactly_once(readings, expected)
    finally:
        await asyncio.to_thread(cluster.stop)


async def test_connector_sigkill_and_restart_loses_and_duplicates_nothing(
    kafka, fresh_db, topic_prefix, unique, tmp_path
):
    pid = f"kil{unique[:6]}"
    path = plant_yaml(tmp_path, pid, unique)
    plant = load_plant_config(path)
    key_file = await register(fresh_db, path, tmp_path)
    expected = await write_csv(plant, tmp_path / "replay.csv", 200)
    await create_topics(kafka, topic_prefix)
    env = dict(
        os.environ,
        EPD_KAFKA_BOOTSTRAP=kafka.bootstrap,
        EPD_TOPIC_PREFIX=topic_prefix,
        EPD_CONNECTOR_PLANT_CONFIG=str(path),
        EPD_CONNECTOR_KEY_FILE=str(key_file),
        EPD_CONNECTOR_SOURCES="files",
        EPD_CONNECTOR_FILES_PATH=str(tmp_path / "replay.csv"),
        EPD_CONNECTOR_FILES_ROWS_PER_SECOND="40",
        EPD_CONNECTOR_FILES_CHECKPOINT_ROWS="15",
        EPD_CONNECTOR_EXIT_WHEN_DRAINED="true",
        EPD_LOG_LEVEL="WARNING",
    )
    state_file = tmp_path / "replay.csv.state.json"  # written atomically (tmp + rename) at each checkpoint

    def rows_done() -> int:
        return json.loads(state_file.read_text())["rows_done"] if state_file.exists() else 0

    first = await asyncio.create_subprocess_exec(sys.executable, "-m", "epd_connector", env=env)
    try:
        # Killed mid-stream: right after its first checkpoint, however long its start took (a fixed
        # 3 s failed on a busy machine, before the first checkpoint, and idled on a fast one).
        async with asyncio.timeout(120):
            while not rows_done():
                assert first.returncode is None, "the connector exited before its first checkpoint"
                await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
    state = state_file.read_text()
    assert '"rows_done": 200' not in state  # killed mid-stream
    second = await asyncio.create_subprocess_exec(sys.executable, "-m", "epd_connector", env=env)
    try:
        assert await asyncio.wait_for(second.wait(), 120) == 0
    finally:
        if second.returncode is None:
            second.kill()
    async with running_ingest(kafka, fresh_db, topic_prefix, f"ingest-{unique}"):
        readings = await settle(kafka, topics.TELEMETRY_READINGS, topic_prefix, f"r-{unique}", len(expected))
    assert_exactly_once(readings, expected)
