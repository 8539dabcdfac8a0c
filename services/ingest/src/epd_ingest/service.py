"""Ingest service (adapter): epd.telemetry.raw.v1 -> process_batch -> readings / rejected topics.

Per poll: run the pure pipeline on every record, then send each plant's accepted readings of the whole
poll as ReadingBatch records (epd_common.reading_batches: as few as fit under its size bound, in order,
keyed by plant; the poll is the linger, so batching adds no wait) and every rejection as its own record,
pipelined (PipelinedSender), and await every ack. Only then may the poll's state and next offsets be
saved in PostgreSQL (one statement), and the Kafka offsets be committed after that (for lag
monitoring; the saved offsets are the truth).

The save runs in the background while the next poll is processed: at most one save is in flight,
and polls that finish while it runs are saved together by the next one (their state changes
accumulate in IngestState.changes, their offsets here), which the save in flight starts itself when
it ends between polls (else the poll being handled starts it when it ends): a poll's offsets are
saved and committed without waiting for another poll, also when the input goes idle. A snapshot is
only taken between polls (never of a half-handled one), so the rows always match the offsets they
are saved with. Before partitions are revoked, before a restore and when the loop stops, `flush`
saves everything.
At most MAX_UNSAVED_POLLS polls wait unsaved (then the loop waits for the save in flight), which
bounds what a crash makes ingest reprocess; see state_store.py for the crash semantics.
Kafka, PostgreSQL and the clock are passed in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram

from epd.v1 import telemetry_pb2
from epd_common import reading_batches, topics
from epd_common.kafka import TopicProducer
from epd_common.lag import ConsumerLag, StallWatch
from epd_ingest.pipeline import DEFAULT_CONFIG, IngestConfig, IngestState, process_batch
from epd_ingest.registry import PlantRegistry
from epd_ingest.sender import PipelinedSender
from epd_ingest.state_store import IngestStateStore, StateSnapshot

log = logging.getLogger(__name__)

READINGS_ACCEPTED = Counter("epd_ingest_readings_accepted_total", "Readings accepted and produced")
READINGS_REJECTED = Counter("epd_ingest_readings_rejected_total", "Readings or batches rejected", ["reason"])
BATCHES = Counter("epd_ingest_batches_total", "Raw records processed")
BATCHES_SENT = Counter("epd_ingest_reading_batches_total", "ReadingBatch records produced (each carries many readings)")
SAVE_SECONDS = Histogram("epd_ingest_state_save_seconds", "Time to save the ingest state and offsets in PostgreSQL")
LAG = Gauge("epd_ingest_lag_seconds", "Age of the last processed raw record (broker timestamp) when processed")
REGISTRY_REFRESHES = Counter(
    "epd_ingest_registry_refreshes_total",
    "Plant registry snapshots loaded: announced by the database, periodic, or for a batch of an unknown plant or key",
    ["trigger"],
)

MAX_UNSAVED_POLLS = 20  # polls processed while one save is in flight before the loop waits for it
# A batch refused because the snapshot does not know its plant or key reloads the registry and is
# validated again (a key registered a moment ago whose announcement has not arrived yet), at most this
# often: unknown keys cannot force a reload per batch. Batches of known signers never pay for this.
UNKNOWN_KEY_REFRESH_SECONDS = 5.0

# Bounded label values: the names of the RejectionReason enum, nothing plant-supplied.
_REASONS = {
    v: telemetry_pb2.RejectionReason.Name(v).removeprefix("REJECTION_REASON_").lower()
    for v in telemetry_pb2.RejectionReason.values()
}


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: IngestService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._service.flush()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._service.restore(assigned)


class IngestService:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        producer: TopicProducer,
        registry: PlantRegistry,
        store: IngestStateStore,
        *,
        prefix: str = "",
        config: IngestConfig = DEFAULT_CONFIG,
        refresh_registry: Callable[[], object] | None = None,
        refresh_seconds: float = 60.0,
        registry_changed: asyncio.Event | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        stall_seconds: float = 300.0,
    ) -> None:
        self._consumer = consumer
        self._stall_seconds = stall_seconds
        self._producer = producer
        self._sender = PipelinedSender(producer.raw)
        self._registry = registry
        self._store = store
        self._config = config
        self._clock = clock
        self._refresh = refresh_registry
        self._refresh_seconds = refresh_seconds
        self._registry_changed = registry_changed
        self._next_refresh = time.monotonic() + refresh_seconds
        self._next_unknown_key_refresh = 0.0
        self.raw_topic = topics.TELEMETRY_RAW.topic(prefix)
        self.readings_topic = topics.TELEMETRY_READINGS.topic(prefix)
        self.rejected_topic = topics.TELEMETRY_REJECTED.topic(prefix)
        self.state = IngestState.for_config(config)
        self.processed = 0
        self.accepted = 0
        self._saving: asyncio.Task | None = None
        self._unsaved: dict[TopicPartition, int] = {}  # next offsets of polls processed, not yet saved
        self._unsaved_polls = 0
        self._unsaved_now: datetime | None = None
        self._lock = asyncio.Lock()  # one of: handling a poll, flushing, restoring
        self._stopping = asyncio.Event()

    def subscribe(self) -> None:
        self._consumer.subscribe([self.raw_topic], listener=_Rebalance(self))

    async def restore(self, assigned: list[TopicPartition]) -> None:
        """Reload the saved state and seek every assigned partition to its saved next offset."""
        async with self._lock:
            await self._flush()
            self.state, offsets = await self._store.load(self.raw_topic)
            for tp in assigned:
                if tp.partition in offsets:
                    self._consumer.seek(tp, offsets[tp.partition])
        log.info("ingest assigned %s; state restored", [tp.partition for tp in assigned])

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        self.subscribe()
        lag = ConsumerLag("ingest", self._consumer)  # ops: epd_consumer_lag_messages{component="ingest"}
        stall = StallWatch("ingest", self._consumer, self._stall_seconds)  # a hung client: exit, be restarted
        while not self._stopping.is_set():
            polled = await self._consumer.getmany(timeout_ms=500, max_records=500)
            await self._maybe_refresh()  # a change announced while polling applies to what the poll brought
            if polled:
                await self.handle(polled)
                stall.progress()
            else:
                await stall.check()
            await lag.maybe_update()
        await self.flush()

    async def _maybe_refresh(self) -> None:
        """Reload the plant registry before the next poll when it announced a change, or when due."""
        changed = self._registry_changed is not None and self._registry_changed.is_set()
        if self._refresh is not None and (changed or time.monotonic() >= self._next_refresh):
            self._next_refresh = time.monotonic() + self._refresh_seconds
            try:
                await self._refresh()  # type: ignore[misc]
            except Exception:  # keep the last snapshot; the next interval retries
                log.exception("plant registry refresh failed; keeping the previous snapshot")
            else:
                REGISTRY_REFRESHES.labels("announced" if changed else "periodic").inc()

    async def _refresh_for_unknown_signer(self) -> bool:
        """Reload the registry after a batch was refused for a plant or key it does not know (a key
        registered a moment ago whose announcement has not arrived yet), unless that was done less than
        UNKNOWN_KEY_REFRESH_SECONDS ago. True when the snapshot was reloaded (the batch is worth
        validating again)."""
        if self._refresh is None or time.monotonic() < self._next_unknown_key_refresh:
            return False
        self._next_unknown_key_refresh = time.monotonic() + UNKNOWN_KEY_REFRESH_SECONDS
        try:
            await self._refresh()  # type: ignore[misc]
        except Exception:
            log.exception("plant registry refresh failed; keeping the previous snapshot")
            return False
        REGISTRY_REFRESHES.labels("unknown_key").inc()
        return True

    async def handle(self, polled: dict[TopicPartition, list]) -> None:
        async with self._lock:
            await self._handle(polled)

    async def _handle(self, polled: dict[TopicPartition, list]) -> None:
        now = self._clock()
        sender = self._sender
        await sender.begin((self.readings_topic, self.rejected_topic))
        readings_topic, rejected_topic, registry, state, config = (
            self.readings_topic,
            self.rejected_topic,
            self._registry,
            self.state,
            self._config,
        )
        accepted = 0
        rejected: list[int] = []
        records_seen = 0
        by_plant: dict[str, list[bytes]] = {}  # this poll's accepted readings (encoded), in order
        for records in polled.values():
            for rec in records:
                result = process_batch(rec.value or b"", registry, state, now, config)
                if result.unknown_signer and await self._refresh_for_unknown_signer():
                    # Refused before touching the state: validate it again against the reloaded registry.
                    result = process_batch(rec.value or b"", registry, state, now, config)
                if result.encoded:
                    by_plant.setdefault(result.plant_id, []).extend(result.encoded)  # one plant per batch
                    accepted += len(result.encoded)
                for j in result.rejected:
                    await sender.send(
                        rejected_topic, (j.plant_id or "unknown").encode(), j.SerializeToString(deterministic=True)
                    )
                    rejected.append(j.reason)
                records_seen += 1
                await asyncio.sleep(0)  # let the save in flight and the clients' I/O progress between records
            if records and records[-1].timestamp and records[-1].timestamp > 0:
                LAG.set(max(0.0, now.timestamp() - records[-1].timestamp / 1000))
        for plant_id, readings in by_plant.items():
            key = plant_id.encode()
            for value in reading_batches.pack_encoded(plant_id, readings):
                await sender.send(readings_topic, key, value)
                BATCHES_SENT.inc()
        await sender.flush()
        # Every output of this poll is acknowledged: its offsets may now be saved with the state.
        self._unsaved.update({tp: records[-1].offset + 1 for tp, records in polled.items() if records})
        self._unsaved_polls += 1
        self._unsaved_now = now
        if self._saving is not None and not self._saving.done() and self._unsaved_polls >= MAX_UNSAVED_POLLS:
            await self._saving
        self._start_save()
        BATCHES.inc(records_seen)
        READINGS_ACCEPTED.inc(accepted)
        for reason in rejected:
            READINGS_REJECTED.labels(_REASONS.get(reason, "unspecified")).inc()
        self.processed += records_seen
        self.accepted += accepted

    def _start_save(self) -> None:
        """Start saving everything unsaved unless a save is in flight (then the next one takes it)."""
        if self._saving is not None:
            if not self._saving.done():
                return
            saving, self._saving = self._saving, None
            saving.result()  # a failed save stops the service (the next start reprocesses from the saved offsets)
        if self._unsaved_polls:
            self._saving = asyncio.create_task(self._persist(*self._take_unsaved()))

    def _take_unsaved(self) -> tuple[StateSnapshot, dict[TopicPartition, int]]:
        """The snapshot of every poll handled and not saved yet, with their offsets (between polls only)."""
        offsets, self._unsaved, self._unsaved_polls = self._unsaved, {}, 0
        snapshot = self._store.snapshot(
            self.state,
            self.state.take_changes(),
            self.raw_topic,
            {tp.partition: o for tp, o in offsets.items()},
            self._unsaved_now or self._clock(),
        )
        return snapshot, offsets

    async def _persist(self, snapshot: StateSnapshot, offsets: dict[TopicPartition, int]) -> None:
        while True:
            started = time.perf_counter()
            await self._store.write(snapshot)
            SAVE_SECONDS.observe(time.perf_counter() - started)
            try:
                await self._consumer.commit(offsets)
            except KafkaError as exc:  # e.g. during a rebalance; the offsets saved with the state are the truth
                log.warning("Kafka offset commit failed (%s); the saved offsets stand", exc)
            # Polls handled meanwhile are saved now, not at the next poll, unless a poll is being handled
            # (its end starts the next save) or a flush or restore holds the lock (it saves them itself).
            if not self._unsaved_polls or self._lock.locked():
                return
            snapshot, offsets = self._take_unsaved()

    async def flush(self) -> None:
        """Save everything not saved yet and wait for it (before a revoke, a restore and on stop).
        Waits for a poll being handled: aiokafka runs rebalance callbacks in its coordinator task,
        which may interleave with `handle`, and a half-handled poll must never be saved."""
        async with self._lock:
            await self._flush()

    async def _flush(self) -> None:
        while self._saving is not None or self._unsaved_polls:
            if self._saving is not None:
                saving, self._saving = self._saving, None
                await saving
            self._start_save()
