"""PostgreSQL persistence of the ingest state (tables of migration 0003_ingest).

A save writes what changed since the previous save (new accepted timestamps, meter floors and
counter points, seen batch ids, the evidence rows of the accepted readings: process, meter,
observation time and reading hash, kept for `epd audit prove`) and the next offsets to consume, in
ONE transaction; `snapshot`
copies those rows out synchronously and `write` stores them, so the service can write in the
background while it processes the next poll (service.py). `load` rebuilds an IngestState and
returns the offsets to seek to, so the state always matches the input position.

Crash semantics: a crash after some polls' output sends but before their save makes ingest
reprocess those records from the saved offsets with the saved state, so it emits the same
Readings again with the same deterministic reading ids (and the same rejection ids); downstream
consumers dedupe by id. Nothing accepted is lost (offsets only move with the state that
produced them), and nothing is counted twice by id. A crash after `write` but before the Kafka
commit loses nothing either: the saved offsets win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from epd_ingest.counters import CounterPoint
from epd_ingest.pipeline import IngestConfig, IngestState, StateChanges

PRUNE_EVERY = 200  # saves between prunes of rows below the meters' floors

# (plant id, meter id, dedupe floor ns, counter value, counter observed at) of one changed meter
MeterRow = tuple[str, str, int | None, Decimal | None, datetime | None]


@dataclass(frozen=True)
class StateSnapshot:
    """The rows one save writes: new reading stamps (three columns), changed meters, batch ids, offsets."""

    topic: str
    offsets: dict[int, int]
    now: datetime
    readings: tuple[list[str], list[str], list[int]]
    meter_rows: list[MeterRow]
    batches: dict[str, str]
    evidence: tuple[list[str], list[str], list[str], list[int], list[bytes]] = ([], [], [], [], [])


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
                "SELECT plant_id, meter_id, floor_ns, counter_value, counter_observed_at FROM ingest_meter_state"
            )
            for m in meters:
                key = (m["plant_id"], m["meter_id"])
                state.dedupe.restore_meter(*key, stamps.pop(key, []), m["floor_ns"])
                if m["counter_value"] is not None:
                    state.counters[key] = CounterPoint(Decimal(m["counter_value"]), m["counter_observed_at"])
            for key, s in stamps.items():  # saved stamps whose meter row is missing: keep them, no floor
                state.dedupe.restore_meter(*key, s, None)
            for row in await conn.fetch(
                "SELECT batch_id FROM (SELECT batch_id, seen_at FROM ingest_seen_batches"
                " ORDER BY seen_at DESC LIMIT $1) b ORDER BY seen_at",
                state.dedupe.max_batch_ids,
            ):
                state.dedupe.record_batch(row[0])
            offsets = {
                r[0]: r[1]
                for r in await conn.fetch(
                    "SELECT partition, next_offset FROM ingest_offsets WHERE consumer_group = $1 AND topic = $2",
                    self._group,
                    topic,
                )
            }
        return state, offsets

    def snapshot(
        self, state: IngestState, changes: StateChanges, topic: str, offsets: dict[int, int], now: datetime
    ) -> StateSnapshot:
        """Copy out (synchronously) what `write` will store, so the state may move on meanwhile."""
        meter_rows: list[MeterRow] = []
        for p, m in {(p, m) for p, m, _ in changes.readings}:
            _, floor = state.dedupe.meter_snapshot(p, m)
            point = state.counters.get((p, m))
            meter_rows.append(
                (p, m, floor, None if point is None else point.value, None if point is None else point.observed_at)
            )
        rows = changes.readings
        readings = ([p for p, _, _ in rows], [m for _, m, _ in rows], [ns for _, _, ns in rows])
        ev = changes.evidence
        evidence = ([e[0] for e in ev], [e[1] for e in ev], [e[2] for e in ev], [e[3] for e in ev], [e[4] for e in ev])
        return StateSnapshot(topic, dict(offsets), now, readings, meter_rows, dict(changes.batches), evidence)

    async def write(self, snap: StateSnapshot) -> None:
        """Store one snapshot in ONE transaction (state rows and the next offsets together)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if snap.readings[0]:
                await conn.execute(
                    "INSERT INTO ingest_seen_readings (plant_id, meter_id, observed_ns)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING",
                    *snap.readings,
                )
            if snap.evidence[0]:
                await conn.execute(
                    "INSERT INTO evidence_readings (process_id, plant_id, meter_id, observed_ns, reading_hash)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bytea[])"
                    " ON CONFLICT DO NOTHING",
                    *snap.evidence,
                )
            if snap.meter_rows:
                await conn.execute(
                    "INSERT INTO ingest_meter_state (plant_id, meter_id, floor_ns, counter_value, counter_observed_at)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[], $5::timestamptz[])"
                    " ON CONFLICT (plant_id, meter_id) DO UPDATE SET floor_ns = excluded.floor_ns,"
                    " counter_value = excluded.counter_value, counter_observed_at = excluded.counter_observed_at,"
                    " updated_at = now()",
                    *(list(col) for col in zip(*snap.meter_rows, strict=True)),
                )
            if snap.batches:
                ids = list(snap.batches)
                await conn.execute(
                    "INSERT INTO ingest_seen_batches (batch_id, plant_id, seen_at)"
                    " SELECT b, p, $3 FROM unnest($1::text[], $2::text[]) AS t(b, p) ON CONFLICT DO NOTHING",
                    ids,
                    [snap.batches[i] for i in ids],
                    snap.now,
                )
            if snap.offsets:
                parts = sorted(snap.offsets)
                await conn.execute(
                    "INSERT INTO ingest_offsets (consumer_group, topic, partition, next_offset)"
                    " SELECT $1, $2, p, o FROM unnest($3::int[], $4::bigint[]) AS t(p, o)"
                    " ON CONFLICT (consumer_group, topic, partition) DO UPDATE"
                    " SET next_offset = excluded.next_offset, updated_at = now()",
                    self._group,
                    snap.topic,
                    parts,
                    [snap.offsets[p] for p in parts],
                )
            self._saves += 1
            if self._saves % PRUNE_EVERY == 0:
                await self._prune(conn, snap.now)

    async def _prune(self, conn: PoolConnectionProxy, now: datetime) -> None:
        await conn.execute(
            "DELETE FROM ingest_seen_readings s USING ingest_meter_state m WHERE s.plant_id = m.plant_id"
            " AND s.meter_id = m.meter_id AND m.floor_ns IS NOT NULL AND s.observed_ns < m.floor_ns"
        )
        await conn.execute(
            "DELETE FROM ingest_seen_batches WHERE seen_at < $1",
            now - max(self._config.max_lateness, timedelta(days=1)),
        )
