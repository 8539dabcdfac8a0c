"""`epd connector replay`: a simulated CSV backfill goes signed onto the raw topic, all of it, once;
a second run resumes from its state file and sends nothing again."""

from __future__ import annotations

import os
import subprocess
import sys

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.kafka import KafkaConnection, ensure_topics, make_consumer
from epd_connector.config import load_plant_config
from tests.conftest import REPO

PLANT = REPO / "services" / "connector" / "config" / "baotou-mine.yaml"


def epd(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "epd_cli.main", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


async def raw_readings(kafka: KafkaConnection, topic: str) -> list[tuple[str, int]]:
    consumer = make_consumer(kafka, None, topic)
    await consumer.start()
    seen = []
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            for records in batch.values():
                for rec in records:
                    tb = telemetry_pb2.TelemetryBatch.FromString(topics.TELEMETRY_RAW.decode(rec.value).batch)
                    seen += [(r.meter_id, r.observed_at.seconds) for r in tb.readings]
    finally:
        await consumer.stop()
    return seen


async def test_replay_sends_every_row_once_and_resumes(tmp_path, kafka, topic_prefix):
    env = {"EPD_KAFKA_BOOTSTRAP": kafka.bootstrap, "EPD_TOPIC_PREFIX": topic_prefix}
    await ensure_topics(kafka, [topics.TELEMETRY_RAW], replication=topics.SINGLE_BROKER, prefix=topic_prefix)
    csv = tmp_path / "mine.csv"
    sim = epd(
        "simulate",
        "--plant",
        str(PLANT),
        "--to",
        "files",
        "--out",
        str(csv),
        "--duration",
        "2h",
        "--speed",
        "0",
        "--start",
        "2026-01-01T00:00:00Z",
        "--bad-probability",
        "0",
        env=env,
    )
    assert sim.returncode == 0, sim.stderr
    assert epd("connector", "keygen", str(tmp_path / "k.pem"), env=env).returncode == 0
    args = (
        "connector",
        "replay",
        str(csv),
        "--plant",
        str(PLANT),
        "--key-file",
        str(tmp_path / "k.pem"),
        "--spool-dir",
        str(tmp_path / "spool"),
    )
    first = epd(*args, env=env)
    assert first.returncode == 0, first.stderr
    readings = await raw_readings(kafka, topics.TELEMETRY_RAW.topic(topic_prefix))
    meters = len(load_plant_config(PLANT).meters)
    assert len(readings) == len(set(readings)) == meters * 120  # 2 h of 60 s steps, every meter, once
    again = epd(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert len(await raw_readings(kafka, topics.TELEMETRY_RAW.topic(topic_prefix))) == len(readings)


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path):
    res = epd(
        "connector",
        "replay",
        str(tmp_path / "nope.csv"),
        "--plant",
        str(PLANT),
        "--key-file",
        str(tmp_path / "nokey.pem"),
        env={},
    )
    assert res.returncode == 2 and "replay failed" in res.stderr
