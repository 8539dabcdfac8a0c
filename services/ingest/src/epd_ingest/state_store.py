"""PostgreSQL persistence of the ingest state (tables of migrations 0003_ingest, 0016_ingest_seen_stamps).

A save writes what changed since the previous save (new accepted timestamps, meter floors and
counter points, seen batch ids, the evidence rows of the accepted readings: process, meter,
observation time and reading hash, kept for `epd audit prove`) and the next offsets to consume, in
ONE statement (so ONE transaction); `snapshot`
copies those rows out synchronously and `write` stores them, so the service can write in the
background while it processes the next poll (service.py). `load` rebuilds an IngestState and
returns the offsets to seek to, so the state always matches the input position.

Crash semantics: a crash after some polls' output sends but before their save makes ingest
reprocess those records from the saved offsets with the saved state, so it emits the same
Readings again with the same deterministic reading ids (and the same rejection ids); downstream
consumers dedupe by id. Nothing accepted is lost (offsets only move with the state that
produced them), and nothing is counted twice by id. A crash after `write` but before the Kafka
commit loses nothing either: the saved offsets win.

Cost (bench/bench_ingest.py): the evidence rows are a save's bulk, one per accepted reading. The
dedupe window's stamps are the same readings' (plant, meter, observed ns): they are stored as ONE
row per save (ingest_seen_stamps: the save's meters and, per reading, its meter's index and stamp,
as arrays), since nothing looks a stamp up in PostgreSQL (the window is in memory; `load` reads it
whole). Both come from the same few parameters, since asyncpg inspects every element of an array
parameter: the distinct meters as small arrays, each reading's meter index and stamp as one text of
integers (parsed once by PostgreSQL for both tables), the evidence hashes as one bytea of 32-byte
slices. Evidence rows are inserted plainly, because `ON CONFLICT DO NOTHING` makes PostgreSQL insert
each row speculatively (about twice the work); a save finding rows that are already stored (a save
repeated after an unclear commit, two writers for a while during a rebalance) fails with a unique
violation and is then written again whole, with `ON CONFLICT DO NOTHING`: the evidence rows stored
are the same either way, and a stamp saved twice is one stamp when loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from epd_ingest.counters import CounterPoint
from epd_ingest.pipeline import IngestConfig, IngestState, StateChanges

PRUNE_EVERY = 200  # saves between prunes of rows below the meters' floors
HASH_BYTES = 32
_PLAIN = ""
_ON_CONFLICT = " ON CONFLICT DO NOTHING"

# (plant id, meter id, dedupe floor ns, counter value, counter observed at) of one changed meter
MeterRow = tuple[str, str, int | None, Decimal | None, datetime | None]


@dataclass(frozen=True)
class StateSnapshot:
    """The rows one save writes: the evidence rows of the new readings (RowColumns; their stamps are
    also the dedupe window's), changed meters, batch ids, offsets."""

    topic: str
    offsets: dict[int, int]
    now: datetime
    meter_rows: list[MeterRow]
    batches: dict[str, str]
    evidence: RowColumns = field(default_factory=lambda: RowColumns.of([], 3, hashed=True))


@dataclass(frozen=True)
class RowColumns:
    """Rows of (text key columns..., observed ns[, 32-byte hash]) as statement parameters: the distinct
    keys column by column, then each row's key index (1-based) and its stamp as comma-separated
    integers, and the hashes concatenated (b"" when the rows have none)."""

    keys: tuple[list[str], ...]
    indexes: str
    stamps: str
    hashes: bytes
    count: int

    @classmethod
    def of(cls, rows: Sequence[tuple], width: int, hashed: bool = False) -> RowColumns:
        """`rows` of `width` text key columns, the stamp, then (when `hashed`) the hash."""
        if not rows:
            return cls(tuple([] for _ in range(width)), "", "", b"", 0)
        columns = list(zip(*rows, strict=True))
        index: dict[tuple, int] = {}
        positions = [index.setdefault(key, len(index) + 1) for key in zip(*columns[:width], strict=True)]
        keys = tuple(list(col) for col in zip(*index, strict=True))
        hashes = b"".join(columns[width + 1]) if hashed else b""
        if len(hashes) != (HASH_BYTES * len(rows) if hashed else 0):
            raise ValueError("every evidence hash is a 32-byte SHA-256 digest")
        return cls(keys, ",".join(map(str, positions)), ",".join(map(str, columns[width])), hashes, len(rows))

    @classmethod
    def of_changes(cls, changes: StateChanges) -> RowColumns:
        """The evidence rows a StateChanges gathered (already column by column)."""
        keys = changes.evidence_keys
        return cls(
            tuple(list(col) for col in zip(*keys, strict=True)) if keys else ([], [], []),
            ",".join(map(str, changes.evidence_index)),
            ",".join(map(str, changes.evidence_ns)),
            bytes(changes.evidence_hashes),
            len(changes.evidence_ns),
        )

    def rows(self) -> list[tuple]:
        """The rows back, as `of` took them (for tests and logs)."""
        if not self.count:
            return []
        out = []
        for n, (i, ns) in enumerate(zip(self.indexes.split(","), self.stamps.split(","), strict=True)):
            row = (*(col[int(i) - 1] for col in self.keys), int(ns))
            out.append((*row, self.hashes[n * HASH_BYTES : (n + 1) * HASH_BYTES]) if self.hashes else row)
        return out


# The whole save: evidence rows and the save's stamps row ($1-$6, as RowColumns gives them; no stamps row
# for a save without readings), changed meters ($7-$11), batch ids ($12-$14), next offsets ($15-$18).
# Data-modifying WITH clauses all run, to completion, whether or not the final SELECT reads them.
_SAVE = (
    "WITH r AS MATERIALIZED (SELECT string_to_array($4, ',')::int[] AS i,"
    " string_to_array($5, ',')::bigint[] AS ns),"
    " evidence AS (INSERT INTO evidence_readings"
    " (process_id, plant_id, meter_id, observed_ns, reading_hash)"
    " SELECT ($1::text[])[k], ($2::text[])[k], ($3::text[])[k], t,"
    " substring($6::bytea from (n * 32 - 31)::int for 32)"
    " FROM r, unnest(r.i, r.ns) WITH ORDINALITY AS e(k, t, n){conflicts}),"
    " stamps AS (INSERT INTO ingest_seen_stamps (plant_ids, meter_ids, meter_index, observed_ns)"
    " SELECT $2::text[], $3::text[], i, ns FROM r WHERE cardinality(i) > 0),"
    " meters AS (INSERT INTO ingest_meter_state"
    " (plant_id, meter_id, floor_ns, counter_value, counter_observed_at)"
    " SELECT * FROM unnest($7::text[], $8::text[], $9::bigint[], $10::numeric[], $11::timestamptz[])"
    " ON CONFLICT (plant_id, meter_id) DO UPDATE SET floor_ns = excluded.floor_ns,"
    " counter_value = excluded.counter_value, counter_observed_at = excluded.counter_observed_at,"
    " updated_at = now()),"
    " batches AS (INSERT INTO ingest_seen_batches (batch_id, plant_id, seen_at)"
    " SELECT b, p, $14 FROM unnest($12::text[], $13::text[]) AS t(b, p) ON CONFLICT DO NOTHING),"
    " offsets AS (INSERT INTO ingest_offsets (consumer_group, topic, partition, next_offset)"
    " SELECT $15, $16, p, o FROM unnest($17::int[], $18::bigint[]) AS t(p, o)"
    " ON CONFLICT (consumer_group, topic, partition) DO UPDATE"
    " SET next_offset = excluded.next_offset, updated_at = now())"
    " SELECT 1"
)


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
            for plants, meters, indexes, saved in await conn.fetch(
                "SELECT plant_ids, meter_ids, meter_index, observed_ns FROM ingest_seen_stamps"
            ):
                pairs = [stamps.setdefault(key, []) for key in zip(plants, meters, strict=True)]
                for i, ns in zip(indexes, saved, strict=True):
                    pairs[i - 1].append(ns)
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
        evidence = RowColumns.of_changes(changes)
        meter_rows: list[MeterRow] = []
        for p, m in dict.fromkeys(zip(*evidence.keys[1:], strict=True)):  # the meters with new readings, each once
            floor = state.dedupe.floor(p, m)
            point = state.counters.get((p, m))
            meter_rows.append(
                (p, m, floor, None if point is None else point.value, None if point is None else point.observed_at)
            )
        return StateSnapshot(topic, dict(offsets), now, meter_rows, dict(changes.batches), evidence)

    async def write(self, snap: StateSnapshot) -> None:
        """Store one snapshot in ONE statement (state rows and the next offsets together)."""
        try:
            await self._write(snap, _PLAIN)
        except asyncpg.UniqueViolationError:  # rows already stored: the same save, idempotently
            await self._write(snap, _ON_CONFLICT)
        self._saves += 1
        if self._saves % PRUNE_EVERY == 0:
            async with self._pool.acquire() as conn:
                await self._prune(conn, snap.now)

    async def _write(self, snap: StateSnapshot, conflicts: str) -> None:
        # ONE statement (atomic on its own, so no BEGIN and COMMIT): one round trip to PostgreSQL. The
        # service handles polls on the same event loop, so every round trip of a save waits for the poll
        # being handled; a save of several statements in a transaction took several polls to finish.
        e = snap.evidence
        meter_columns = [list(col) for col in zip(*snap.meter_rows, strict=True)] if snap.meter_rows else [[]] * 5
        batch_ids = list(snap.batches)
        parts = sorted(snap.offsets)
        await self._pool.execute(
            _SAVE.format(conflicts=conflicts),
            *e.keys,
            e.indexes,
            e.stamps,
            e.hashes,
            *meter_columns,
            batch_ids,
            [snap.batches[b] for b in batch_ids],
            snap.now,
            self._group,
            snap.topic,
            parts,
            [snap.offsets[p] for p in parts],
        )

    async def _prune(self, conn: PoolConnectionProxy, now: datetime) -> None:
        # A save's row goes once every stamp in it is below its meter's floor (a meter without a
        # saved floor keeps its rows).
        await conn.execute(
            "DELETE FROM ingest_seen_stamps s WHERE NOT EXISTS (SELECT FROM unnest(s.meter_index, s.observed_ns)"
            " AS r(i, ns) LEFT JOIN ingest_meter_state m ON m.plant_id = s.plant_ids[r.i]"
            " AND m.meter_id = s.meter_ids[r.i] WHERE m.floor_ns IS NULL OR r.ns >= m.floor_ns)"
        )
        await conn.execute(
            "DELETE FROM ingest_seen_batches WHERE seen_at < $1",
            now - max(self._config.max_lateness, timedelta(days=1)),
        )
