"""The faust app: reading batches (keyed by plant) -> intensity windows (keyed by process).

Thin adapter around Processor (processor.py), per batch of records (`take_events`), each record a
ReadingBatch of one plant (epd_common.reading_batches): unpack each and step every reading, send the
windows and corrections (pipelined), await every acknowledgement, then commit the processor's state
once per touched plant and await the changelog's acknowledgements. The worker's position in each
source partition is its own, in the state table (source_progress.py), not faust's: every record must
be the next one of its partition, or one the consumer reached by stepping
over offsets it never delivers, such as transaction markers (consumer_steps.py; a gap, readings lost on
a rebalance, seeks the partition back), every assignment starts at the applied offset + 1, and a batch
that raised is read again. faust does not ack readings (`acks=False`); a timer commits the applied
offsets for the group. A batch ends when its changelog writes are acknowledged (table_store.py).
The faust transport (transport.py) and Monitor (monitor.py) are tuned for throughput; both say why.
DESIGN.md section 6 traps, and what this app does about each:
- one agent, `concurrency=1` (more would commit past in-flight events with tables);
- no batch across a rebalance (rebalance_gate.py): faust's revoke waits only for streams with acks;
- event-time bucket keys in ONE plain table, not faust windowed tables (those expire by wall
  clock); the watermark is the core's, per plant, kept in the same table;
- the table's changelog has as many partitions as the readings topic (TELEMETRY_READINGS) and
  every write goes to the partition of the plant's readings (table_store.py; plants are the key);
- `exactly_once` is not used: every window has a deterministic id and a restarted worker sends a
  replayed window again with the same id and the same bytes; consumers dedupe by id;
- memory store (no RocksDB here): faust rebuilds the table from its changelog at start.
Readings that are not accepted into a window (too late, future, refused, undecodable) go to the
correction log topic `<prefix>epd.intensity.corrections.v1`: the reading's own bytes (not its batch's)
with the headers `epd-outcome` and `epd-detail`, keyed by plant, and the batch's other readings are
handled as usual. A record that is not a ReadingBatch, or carries no reading, goes there whole with the
outcome `malformed_batch`. Exact resends (duplicates) are counted only. Source offsets are per record:
every reading of a batch is applied with its record's offset (processor.py, `handle`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import faust
from faust.transport.consumer import Consumer
from faust.types import TP, EventT
from mode.types.signals import BaseSignalT

from epd_common.kafka import KafkaConnection
from epd_common.reading_batches import unpack
from epd_common.topics import INTENSITY_CORRECTIONS, INTENSITY_WINDOWS, TELEMETRY_READINGS
from epd_intensity.factors.model import FactorLibrary
from epd_intensity.factors.selection import FactorMissing
from epd_intensity.processes import ProcessConfig
from epd_intensity.settings import IntensitySettings

from .consumer_steps import ConsumerSteps
from .metrics import SIZES, IntensityMetrics
from .monitor import LeanMonitor
from .offset_probe import OffsetProbe, stop_with
from .processor import REPLAYED, Processor, Step
from .rebalance_gate import RebalanceGate
from .source_progress import Admission, SourceProgress
from .table_store import TableStore, changelog_sender
from .transport import transport_class

log = logging.getLogger(__name__)
CORRECTIONS_TOPIC = INTENSITY_CORRECTIONS  # not a registry topic (no proto of its own): the worker's own
STATE_TABLE = "intensity-state"


def _credentials(connection: KafkaConnection) -> faust.SASLCredentials | None:
    """The worker's principal for faust's clients (its consumer, producer and admin alike)."""
    if connection.security_protocol == "PLAINTEXT":
        return None
    return faust.SASLCredentials(
        username=connection.username,
        password=connection.password,
        ssl_context=connection.ssl_context(),
        mechanism="SCRAM-SHA-512",
    )


def create_app(
    settings: IntensitySettings, processes: dict[str, ProcessConfig], library: FactorLibrary, metrics: IntensityMetrics
) -> faust.App:
    prefix = settings.topic_prefix
    partitions = TELEMETRY_READINGS.partitions
    # Every topic faust creates (changelog, corrections, its assignor's leader topic) is replicated as
    # the environment says (EPD_ENVIRONMENT, EPD_KAFKA_REPLICATION_FACTOR, EPD_KAFKA_MIN_INSYNC_REPLICAS).
    replication = settings.topic_replication
    app = faust.App(
        prefix + settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap.replace(',', ';')}",
        broker_credentials=_credentials(settings.kafka),
        store="memory://",
        autodiscover=False,
        datadir=str(settings.data_dir),
        topic_partitions=partitions,
        topic_replication_factor=replication.factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 6),  # well under a third of it
        web_port=settings.web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        loghandlers=[],
        Monitor=LeanMonitor,
    )
    # Before the first topic: the conductor takes the transport when topics are declared. It reports the
    # readings consumer's fetches and seeks to `steps` (consumer_steps.py).
    steps = ConsumerSteps(TELEMETRY_READINGS.topic(prefix))
    app.transport = transport_class(settings.fetch_max_wait_ms, steps)(app.conf.broker_consumer, app)
    # acks=False: faust neither tracks nor commits these offsets; the worker's position is its own
    # (source_progress.py) and `_commit_applied` commits it for the group, so lag stays visible.
    readings = app.topic(TELEMETRY_READINGS.topic(prefix), key_serializer="raw", value_serializer="raw", acks=False)
    windows = app.topic(INTENSITY_WINDOWS.topic(prefix), key_serializer="raw", value_serializer="raw")
    corrections = app.topic(
        prefix + CORRECTIONS_TOPIC,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=True,
        config=replication.topic_config(),
    )
    table = app.Table(
        STATE_TABLE,
        default=None,
        partitions=partitions,
        schema=faust.Schema(key_serializer="json", value_serializer="json"),
        extra_topic_configs=replication.topic_config(),
    )
    assert isinstance(table, faust.Table)  # app.Table is typed as the abstract TableT
    lateness = None if settings.allowed_lateness_s is None else timedelta(seconds=settings.allowed_lateness_s)
    store = TableStore(table, changelog_sender(app, table))
    processor = Processor(processes, library, store, lateness)

    progress = SourceProgress(store, steps)
    readings_name = readings.get_topic_name()
    assert readings_name == steps.topic
    # Checks each step the consumer claims (offset_probe.py); reads as faust's consumer does without
    # transactions (its aiokafka driver: read_committed only in a transaction).
    probe = OffsetProbe(settings.kafka, readings_name, "read_uncommitted")
    stop_with(app, probe)
    # Windows and corrections go straight to faust's producer (the topics above declare them):
    # Topic.send adds per-message bookkeeping this agent does not use (it awaits each send itself).
    windows_name, corrections_name = windows.get_topic_name(), corrections.get_topic_name()

    gate = RebalanceGate()  # no batch across a rebalance (rebalance_gate.py says why)

    @app.on_partitions_revoked.connect
    async def _rebalancing(sender: Any, /, *_: Any, signal: BaseSignalT[Any], **__: Any) -> None:
        gate.close()
        waited = time.monotonic()
        while True:  # faust reassigns (and recovers the table) only when this returns
            try:
                await asyncio.wait_for(gate.idle(), timeout=10.0)
                break
            except TimeoutError:
                log.warning("partitions revoked: still waiting for the open batch (%.0f s)", time.monotonic() - waited)
        processor.reset()  # the table is the truth after recovery
        steps.forget()  # where the consumer stands is known again after its next seek or delivery

    @app.on_rebalance_complete.connect
    async def _start_where_the_state_ends(sender: Any, /, *_: Any, signal: BaseSignalT[Any], **__: Any) -> None:
        """Tables are recovered; faust seeks to the committed offsets right after this signal:
        make those the applied offsets + 1 (source_progress.py), whatever faust committed."""
        progress.forget()
        gate.open()  # the agent's next batch reads a recovered table (the records it gets are admitted below)
        source = sorted(
            (tp for tp in app.consumer.assignment() if tp.topic == readings_name), key=lambda t: t.partition
        )
        if not source:
            return
        earliest = await app.consumer.earliest_offsets(*source)
        targets = {}
        for tp in source:
            resume = progress.resume_offset(tp.partition)
            targets[tp] = max(resume if resume is not None else 0, earliest.get(tp) or 0)
        if not await commit_offsets(targets):
            log.warning("could not set the start offsets %s (rebalancing again?)", targets)
        log.info("source partitions start at %s", {tp.partition: o for tp, o in targets.items()})

    async def commit_offsets(offsets: dict[TP, int]) -> bool:
        """Commit chosen offsets for the group: no public faust API commits a chosen (lower) offset; the
        transport Consumer's `_commit` does (app.consumer is one; its declared type, ConsumerT, has no `_commit`)."""
        return await cast(Consumer, app.consumer)._commit(offsets)

    async def rewind(seeks: dict[int, int | None], reason: str) -> None:
        """Seek partitions back to their next expected reading (None: to the earliest there is)."""
        for partition, offset in sorted(seeks.items()):
            tp = TP(readings_name, partition)
            earliest = (await app.consumer.earliest_offsets(tp)).get(tp) or 0
            if offset is None or offset < earliest:
                if offset is not None:
                    log.error(
                        "readings %d..%d of partition %d are gone (retention): skipped", offset, earliest - 1, partition
                    )
                offset = earliest
                progress.skip_to(partition, offset)
            log.warning("source partition %d sought back to %d (%s)", partition, offset, reason)
            metrics.rewinds.labels(reason).inc()
            await app.consumer.seek_wait({tp: offset})

    committed: dict[TP, int] = {}  # what _commit_applied last committed, per source partition

    @app.timer(settings.commit_interval_s)
    async def _commit_applied() -> None:
        """Commit each assigned source partition's applied offset + 1 as the group's offset: what a
        restarted worker resumes from anyway (assignment sets it from the table), published so
        consumer-group lag shows the worker's real backlog. Advisory: recovery never reads it."""
        assigned = [tp for tp in app.consumer.assignment() if tp.topic == readings_name]
        targets = {
            tp: offset
            for tp in assigned
            if (offset := progress.resume_offset(tp.partition)) is not None and committed.get(tp) != offset
        }
        if targets and await commit_offsets(targets):
            committed.update(targets)

    @app.timer(2.0)
    async def _rewind_again() -> None:
        """A seek can lose a race with records already fetched (faust then drops the re-read ones
        as behind its read offset): repeat it until the expected reading arrives."""
        waiting = progress.rewinds()
        if not waiting:
            return
        assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == readings_name}
        for partition, offset in sorted(waiting.items()):
            if partition in assigned:
                await app.consumer.seek_wait({TP(readings_name, partition): offset})

    async def correct(key: bytes | None, value: bytes, outcome: str, detail: str) -> Any:
        metrics.corrections.labels(outcome).inc()  # counted when sent (awaited before the commit)
        headers = [("epd-outcome", outcome.encode()), ("epd-detail", detail[:500].encode())]
        return await app.producer.send(corrections_name, key, value, None, None, headers)

    @app.agent(readings, concurrency=1, name="intensity")
    async def process(stream: faust.StreamT) -> None:
        # noack: the topic has acks=False, so acking each event (a lock and bookkeeping) did nothing.
        # The stream (and noack's) is a faust.Stream; its declared type, StreamT, has neither method.
        unacked = cast(faust.Stream, cast(faust.Stream, stream).noack())
        async for events in unacked.take_events(settings.batch_max, within=settings.batch_within_ms / 1000):
            if not gate.begin():  # partitions revoked: read again from the applied offsets once assigned
                metrics.records.labels("revoked").inc(len(events))
                continue
            partitions = {event.message.partition for event in events}
            gaps: dict[int, int | None] = {}
            try:
                try:
                    steps, undecodable, replayed = await handle_batch(events, gaps)
                    processor.commit()
                    progress.commit()  # after the plant states: on each partition's changelog, the last write
                    await store.durable()  # the batch is done when its state is in the changelog: table_store.py
                except Exception:
                    # Nothing of this batch counts: read it again from what is applied.
                    log.exception("batch of %d records failed: abandoned, its partitions read again", len(events))
                    metrics.failed_batches.inc()
                    processor.discard()
                    await rewind(progress.abandon(partitions), "failed_batch")
                    raise
                if gaps:
                    await rewind(gaps, "gap")
            finally:
                gate.end()  # a revocation waiting in _rebalancing goes on from here
            if undecodable:
                metrics.readings.labels("undecodable").inc(undecodable)
            if replayed:
                metrics.readings.labels(REPLAYED).inc(replayed)
            _observe(metrics, steps)

    async def check_step(partition: int, offset: int) -> Admission:
        """Admit a reading past offsets the consumer says it stepped over only if the broker agrees."""
        expected = progress.claimed_from(partition)
        try:
            first = await probe.first_from(partition, expected)
        except Exception:  # any failure: not confirmed, the partition is read again
            log.exception("could not read partition %d from %d to check a step", partition, expected)
            first = None
        if first == offset:
            progress.confirm_step(partition, offset)
            return Admission.PROCESS
        log.warning(
            "partition %d: the consumer went from %d to %d, but reading from %d gives %s: not a step",
            partition,
            expected,
            offset,
            expected,
            first,
        )
        return progress.refuse_step(partition)

    async def handle_batch(events: Sequence[EventT[Any]], gaps: dict[int, int | None]) -> tuple[list[Step], int, int]:
        """Every record's readings stepped; returns the steps, undecodable readings and replayed readings."""
        pending: list[Any] = []
        steps: list[Step] = []
        undecodable = replayed = 0
        for event in events:
            message = event.message
            admission = progress.admit(message.partition, message.offset)
            if admission is Admission.STEP:
                admission = await check_step(message.partition, message.offset)
            if admission is Admission.GAP:
                gaps[message.partition] = progress.rewinds()[message.partition]
                log.warning(
                    "record %d of partition %d arrived before %d: records lost in between",
                    message.offset,
                    message.partition,
                    gaps[message.partition],
                )
            if admission is not Admission.PROCESS:
                if admission is Admission.REPLAYED:  # counted in readings, as every other outcome
                    metrics.records.labels(REPLAYED).inc()
                    replayed += len(unpack(message.value or b"").readings)
                continue
            value = message.value or b""  # a null record value is an empty batch: malformed
            unpacked = unpack(value)
            malformed = unpacked.malformed or (None if unpacked.readings or unpacked.bad else "a batch of no readings")
            if malformed is not None:
                metrics.records.labels("malformed").inc()
                pending.append(await correct(message.key, value, "malformed_batch", malformed))
                continue
            metrics.records.labels("batch").inc()
            for frame, detail in unpacked.bad:  # one reading's broken bytes: set aside alone
                undecodable += 1
                pending.append(await correct(message.key, frame, "undecodable", detail))
            partition, offset = message.partition, message.offset
            for reading in unpacked.readings:
                step = processor.handle(reading, partition, offset)
                for window in step.windows:
                    pending.append(
                        await app.producer.send(
                            windows_name, window.process_id.encode(), INTENSITY_WINDOWS.encode(window), None, None, None
                        )
                    )
                if step.correction is not None:
                    own = reading.SerializeToString(deterministic=True)
                    pending.append(await correct(message.key, own, *step.correction))
                steps.append(step)
        for future in pending:
            await future  # acknowledged before the plant state records these offsets
        return steps, undecodable, replayed

    return app


def _observe(metrics: IntensityMetrics, steps: list[Step]) -> None:
    """Metrics of one batch's steps: counted per batch, each labelled child looked up once per batch
    (a label lookup costs more than the increment); freshness is observed per window."""
    now = time.time()
    outcomes = Counter(step.outcome for step in steps)
    for outcome, count in outcomes.items():
        metrics.readings.labels(outcome).inc(count)
    if outcomes["unknown_activity"]:
        metrics.unknown_activity.inc(outcomes["unknown_activity"])
    missing: Counter[str] = Counter()
    windows: Counter[str] = Counter()
    revisions: Counter[str] = Counter()
    undefined: Counter[str] = Counter()
    ages: dict[str, list[float]] = {}
    for step in steps:
        for miss in step.missing:
            missing["factor" if isinstance(miss, FactorMissing) else "gwp"] += 1
        for window in step.windows:
            size = SIZES.get(window.size, "other")
            windows[size] += 1
            if window.revision:
                revisions[size] += 1
            undefined[size] += sum(1 for i in window.intensities if not i.defined)
            ages.setdefault(size, []).append(max(0.0, now - window.window_end.seconds))
    for kind, count in missing.items():
        metrics.factor_missing.labels(kind).inc(count)
    for size, count in windows.items():
        metrics.windows.labels(size).inc(count)
        metrics.undefined.labels(size).inc(undefined[size])
        freshness = metrics.freshness.labels(size)
        for age in ages[size]:
            freshness.observe(age)
    for size, count in revisions.items():
        metrics.revisions.labels(size).inc(count)
