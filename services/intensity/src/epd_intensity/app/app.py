"""The faust app: readings (keyed by plant) -> intensity windows (keyed by process).

Thin adapter around Processor (processor.py), per batch of readings (`take_events`): decode and
step each, send the windows and corrections (pipelined), await every acknowledgement, then commit
the processor's state once per touched plant and await the changelog's acknowledgements. faust acks
the batch's events only after the agent body is done with it (take_events), so the committed
offset never passes state that is not in the changelog (faust's flush before its commit is not
enough on its own: table_store.py). DESIGN.md section 6 traps, and
what this app does about each:
- one agent, `concurrency=1` (more would commit past in-flight events with tables);
- event-time bucket keys in ONE plain table, not faust windowed tables (those expire by wall
  clock); the watermark is the core's, per plant, kept in the same table;
- the table's changelog has as many partitions as the readings topic (TELEMETRY_READINGS) and
  every write goes to the partition of the plant's readings (table_store.py; plants are the key);
- `exactly_once` is not used: every window has a deterministic id and a restarted worker sends a
  replayed window again with the same id and the same bytes; consumers dedupe by id;
- memory store (no RocksDB here): faust rebuilds the table from its changelog at start.
Readings that are not accepted into a window (too late, future, refused, undecodable) go to the
correction log topic `<prefix>epd.intensity.corrections.v1`: the original record value with the
headers `epd-outcome` and `epd-detail`, keyed by plant. Exact resends (duplicates) are counted only.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import faust

from epd_common.topics import INTENSITY_WINDOWS, TELEMETRY_READINGS, MalformedRecord

from epd_intensity.factors.model import FactorLibrary
from epd_intensity.factors.selection import FactorMissing
from epd_intensity.processes import ProcessConfig
from epd_intensity.settings import IntensitySettings

from .metrics import SIZES, IntensityMetrics
from .processor import Processor, Step
from .table_store import TableStore

log = logging.getLogger(__name__)
CORRECTIONS_TOPIC = "epd.intensity.corrections.v1"  # declared here: not a registry topic (no proto of its own)
STATE_TABLE = "intensity-state"


def create_app(settings: IntensitySettings, processes: dict[str, ProcessConfig], library: FactorLibrary,
               metrics: IntensityMetrics) -> faust.App:
    prefix = settings.topic_prefix
    partitions = TELEMETRY_READINGS.partitions
    app = faust.App(
        prefix + settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap.replace(',', ';')}",
        store="memory://",
        autodiscover=False,
        datadir=str(settings.data_dir),
        topic_partitions=partitions,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 6),  # well under a third of it
        web_port=settings.web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        loghandlers=[],
    )
    readings = app.topic(TELEMETRY_READINGS.topic(prefix), key_serializer="raw", value_serializer="raw")
    windows = app.topic(INTENSITY_WINDOWS.topic(prefix), key_serializer="raw", value_serializer="raw")
    corrections = app.topic(prefix + CORRECTIONS_TOPIC, key_serializer="raw", value_serializer="raw",
                            partitions=partitions, internal=True)
    table = app.Table(STATE_TABLE, default=None, partitions=partitions,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"))
    lateness = None if settings.allowed_lateness_s is None else timedelta(seconds=settings.allowed_lateness_s)
    store = TableStore(table)
    processor = Processor(processes, library, store, lateness)

    @app.on_partitions_revoked.connect
    async def _rebalancing(sender: Any, *_: Any, **__: Any) -> None:  # the table is the truth after recovery
        processor.reset()

    async def correct(key: bytes | None, value: bytes, outcome: str, detail: str) -> Any:
        metrics.corrections.labels(outcome).inc()  # counted when sent (awaited before the commit)
        headers = [("epd-outcome", outcome.encode()), ("epd-detail", detail[:500].encode())]
        return await corrections.send(key=key, value=value, headers=headers)

    @app.agent(readings, concurrency=1, name="intensity")
    async def process(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_ms / 1000):
            pending: list[Any] = []
            steps: list[Step] = []
            undecodable = 0
            for event in events:
                message = event.message
                try:
                    reading = TELEMETRY_READINGS.decode(message.value or b"")
                except MalformedRecord as exc:
                    undecodable += 1
                    pending.append(await correct(message.key, message.value or b"", "undecodable", str(exc)))
                    continue
                step = processor.handle(reading, message.partition, message.offset)
                for window in step.windows:
                    pending.append(await windows.send(key=window.process_id.encode(),
                                                      value=INTENSITY_WINDOWS.encode(window)))
                if step.correction is not None:
                    pending.append(await correct(message.key, message.value, *step.correction))
                steps.append(step)
            for future in pending:
                await future  # acknowledged before the plant state records these offsets
            processor.commit()
            await store.durable()  # before faust acks (and may commit) these events: see table_store.py
            if undecodable:
                metrics.readings.labels("undecodable").inc(undecodable)
            for step in steps:
                _observe(metrics, step)

    app.intensity_processor = processor  # for tests and the bench
    return app


def _observe(metrics: IntensityMetrics, step: Step) -> None:
    now = time.time()
    metrics.readings.labels(step.outcome).inc()
    if step.outcome == "unknown_activity":
        metrics.unknown_activity.inc()
    for missing in step.missing:
        metrics.factor_missing.labels("factor" if isinstance(missing, FactorMissing) else "gwp").inc()
    for window in step.windows:
        size = SIZES.get(window.size, "other")
        metrics.windows.labels(size).inc()
        if window.revision:
            metrics.revisions.labels(size).inc()
        metrics.undefined.labels(size).inc(sum(1 for i in window.intensities if not i.defined))
        metrics.freshness.labels(size).observe(max(0.0, now - window.window_end.seconds))
