"""Run `python -m epd_intensity` as a subprocess and read its topics (tests and bench)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from epd.v1 import intensity_pb2
from epd_common.kafka import KafkaConnection, make_consumer, make_producer
from epd_common.reading_batches import pack
from epd_common.topics import INTENSITY_WINDOWS, TELEMETRY_READINGS

ROOT = Path(__file__).parents[3]
CORRECTIONS = "epd.intensity.corrections.v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Worker:
    def __init__(
        self,
        kafka: KafkaConnection,
        prefix: str,
        data_dir: Path,
        lateness_s: int | None = None,
        changelog_delay_s: float | None = None,
        delayed_batches: int = 10,
        batch_max: int | None = 20,
    ) -> None:
        self.metrics_port = free_port()
        self.env = {
            **os.environ,
            **kafka.env(),
            "EPD_TOPIC_PREFIX": prefix,
            "EPD_INTENSITY_APP_ID": "intensity",
            "EPD_INTENSITY_DATA_DIR": str(data_dir),
            "EPD_INTENSITY_METRICS_PORT": str(self.metrics_port),
            "EPD_INTENSITY_WEB_PORT": str(free_port()),
            "EPD_INTENSITY_PROCESS_CONFIG": str(ROOT / "services/intensity/config/processes.example.yaml"),
            "EPD_LOG_LEVEL": "WARNING",
            # A SIGKILLed worker holds its partitions for a session: keep it at the broker minimum.
            "EPD_INTENSITY_SESSION_TIMEOUT_S": "6",
        }
        if batch_max is not None:  # tests: small batches, so kills and rebalances meet many batch boundaries
            self.env["EPD_INTENSITY_BATCH_MAX"] = str(batch_max)
        if lateness_s is not None:
            self.env["EPD_INTENSITY_ALLOWED_LATENESS_S"] = str(lateness_s)
        if changelog_delay_s is not None:  # slow_changelog/sitecustomize.py holds each batch's changelog writes
            self.env["EPD_TEST_CHANGELOG_DELAY_S"] = str(changelog_delay_s)
            self.env["EPD_TEST_CHANGELOG_DELAYED_BATCHES"] = str(delayed_batches)
            hook = str(Path(__file__).parent / "slow_changelog")
            self.env["PYTHONPATH"] = os.pathsep.join([hook, self.env.get("PYTHONPATH", "")])
        self.log = data_dir / "worker.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "epd_intensity"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def metrics(self) -> dict[str, float]:
        """Samples of the worker's /metrics (name{labels} -> value); {} while it is not up."""
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def readings_seen(self) -> float:
        return sum(v for k, v in self.metrics().items() if k.startswith("epd_intensity_readings_total"))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def batches(readings, per_record: int = 50) -> list[tuple[bytes, bytes]]:
    """(key, ReadingBatch value) records of the readings as ingest writes them: consecutive readings of
    one plant together, at most `per_record` in a record, in order."""
    out: list[tuple[bytes, bytes]] = []
    run: list = []
    for r in [*readings, None]:
        if run and (r is None or r.plant_id != run[0].plant_id or len(run) == per_record):
            out += [(run[0].plant_id.encode(), value) for value in pack(run[0].plant_id, run)]
            run = []
        if r is not None:
            run.append(r)
    return out


async def produce(kafka: KafkaConnection, prefix: str, readings, per_record: int = 50) -> int:
    """The readings in ReadingBatch records (`batches`); returns how many records."""
    producer = make_producer(kafka)
    await producer.start()
    try:
        records = batches(readings, per_record)
        futures = [await producer.send(TELEMETRY_READINGS.topic(prefix), v, key=k) for k, v in records]
        await asyncio.gather(*futures)
        return len(records)
    finally:
        await producer.stop()


async def read_all(kafka: KafkaConnection, topic: str, idle_s: float = 3.0, expect: int = 0, timeout_s: float = 120.0):
    """Every record of a topic, once at least `expect` arrived and none came for `idle_s`."""
    consumer = make_consumer(kafka, None, topic)
    await consumer.start()
    records = []
    try:
        deadline = time.monotonic() + timeout_s
        last = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
                last = time.monotonic() if recs else last
            if len(records) >= expect and time.monotonic() - last > idle_s:
                break
    finally:
        await consumer.stop()
    return records


def windows_of(records) -> list[intensity_pb2.IntensityWindow]:
    return [INTENSITY_WINDOWS.decode(r.value) for r in records]
