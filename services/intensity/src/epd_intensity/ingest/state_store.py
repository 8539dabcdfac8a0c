"""PostgreSQL persistence of the ingest state (tables of migration 0003_ingest).

After each processed poll, `save` writes what changed (new accepted timestamps, meter floors and
counter points, seen batch ids) and the next offsets to consume in ONE transaction. `load` rebuilds
an IngestState and returns the offsets to seek to, so the state always matches the input position.

Crash semantics: a crash after the output sends but before `save` makes ingest reprocess those
records from the saved offsets with the saved state, so it emits the same Readings again with the
same deterministic reading ids (and the same rejection ids); downstream consumers dedupe by id.
A crash after `save` but before the Kafka commit loses nothing: the saved offsets win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from epd.v1 import telemetry_pb2
from epd_intensity.ingest.counters import CounterPoint
from epd_intensity.ingest.pipeline import IngestConfig, IngestState

PRUNE_EVERY = 200  # saves between prunes of rows below the meters' floors


@dataclass
class PollChanges:
    """What one poll changed, collected from the accepted readings and the state."""

    readings: set[tuple[str, str, int]] = field(default_factory=set)
    batches: dict[str, str] = field(default_factory=dict)  # batch id -> plant id

    def note(self, accepted: Iterable[telemetry_pb2.Reading], rejected: Iterable[telemetry_pb2.RejectedReading],
             state: IngestState) -> None:
        for r in accepted:
            ts = r.observed_at.seconds * 1_000_000_000 + r.observed_at.nanos
            self.readings.add((r.plant_id, r.meter_id, ts))
            self.batches[r.batch_id] = r.plant_id
        for j in rejected:
            if j.batch_id and j.batch_id not in self.batches and state.dedupe.batch_seen(j.batch_id):
                self.batches.setdefault(j.batch_id, j.plant_id)


class IngestStateStore:
    def __init__(self, pool: asyncpg.Pool, consumer_group: str, config: IngestConfig) -> None:
        self._pool = pool
        self._group = consumer_group
        self._config = config
        self._saves = 0

    async def load(self, topic: str) -> tuple[IngestState, dict[int, int]]:
        state = IngestState.for_config(self._config)
        async with self._pool.acquire() as conn:
            stamps: dict[tuple[str, str], list[int]] = {}
            for row in await conn.fetch("SELECT plant_id, meter_id, observed_ns FROM ingest_seen_readings"):
                stamps.setdefault((row[0], row[1]), []).append(row[2])
            meters = await conn.fetch(
                "SELECT plant_id, meter_id, floor_ns, counter_value, counter_observed_at FROM ingest_meter_state")
            for m in meters:
                key = (m["plant_id"], m["meter_id"])
                state.dedupe.restore_meter(*key, stamps.pop(key, []), m["floor_ns"])
                if m["counter_value"] is not None:
                    state.counters[key] = CounterPoint(Decimal(m["counter_value"]), m["counter_observed_at"])
            for key, s in stamps.items():  # saved stamps whose meter row is missing: keep them, no floor
                state.dedupe.restore_meter(*key, s, None)
            for row in await conn.fetch(
                    "SELECT batch_id FROM (SELECT batch_id, seen_at FROM ingest_seen_batches"
                    " ORDER BY seen_at DESC LIMIT $1) b ORDER BY seen_at", state.dedupe.max_batch_ids):
                state.dedupe.record_batch(row[0])
            offsets = {r[0]: r[1] for r in await conn.fetch(
                "SELECT partition, next_offset FROM ingest_offsets WHERE consumer_group = $1 AND topic = $2",
                self._group, topic)}
        return state, offsets

    async def save(self, state: IngestState, changes: PollChanges, topic: str, offsets: dict[int, int],
                   now: datetime) -> None:
        meters = {(p, m) for p, m, _ in changes.readings}
        meter_rows = []
        for p, m in meters:
            _, floor = state.dedupe.meter_snapshot(p, m)
            point = state.counters.get((p, m))
            meter_rows.append((p, m, floor, None if point is None else point.value,
                               None if point is None else point.observed_at))
        readings = sorted(changes.readings)
        async with self._pool.acquire() as conn, conn.transaction():
            if readings:
                await conn.execute(
                    "INSERT INTO ingest_seen_readings (plant_id, meter_id, observed_ns)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING",
                    [r[0] for r in readings], [r[1] for r in readings], [r[2] for r in readings])
            if meter_rows:
                await conn.execute(
                    "INSERT INTO ingest_meter_state (plant_id, meter_id, floor_ns, counter_value, counter_observed_at)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[], $5::timestamptz[])"
                    " ON CONFLICT (plant_id, meter_id) DO UPDATE SET floor_ns = excluded.floor_ns,"
                    " counter_value = excluded.counter_value, counter_observed_at = excluded.counter_observed_at,"
                    " updated_at = now()",
                    *(list(col) for col in zip(*meter_rows, strict=True)))
            if changes.batches:
                ids = list(changes.batches)
                await conn.execute(
                    "INSERT INTO ingest_seen_batches (batch_id, plant_id, seen_at)"
                    " SELECT b, p, $3 FROM unnest($1::text[], $2::text[]) AS t(b, p) ON CONFLICT DO NOTHING",
                    ids, [changes.batches[i] for i in ids], now)
            if offsets:
                parts = sorted(offsets)
                await conn.execute(
                    "INSERT INTO ingest_offsets (consumer_group, topic, partition, next_offset)"
                    " SELECT $1, $2, p, o FROM unnest($3::int[], $4::bigint[]) AS t(p, o)"
                    " ON CONFLICT (consumer_group, topic, partition) DO UPDATE"
                    " SET next_offset = excluded.next_offset, updated_at = now()",
                    self._group, topic, parts, [offsets[p] for p in parts])
            self._saves += 1
            if self._saves % PRUNE_EVERY == 0:
                await self._prune(conn, now)

    async def _prune(self, conn: asyncpg.Connection, now: datetime) -> None:
        await conn.execute(
            "DELETE FROM ingest_seen_readings s USING ingest_meter_state m WHERE s.plant_id = m.plant_id"
            " AND s.meter_id = m.meter_id AND m.floor_ns IS NOT NULL AND s.observed_ns < m.floor_ns")
        await conn.execute("DELETE FROM ingest_seen_batches WHERE seen_at < $1",
                           now - max(self._config.max_lateness, timedelta(days=1)))
