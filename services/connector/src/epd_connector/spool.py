"""Durable on-disk spool of signed batches: written before send, removed only after the broker's ack.

Why sqlite3 and not hand-written files: SQLite's write-ahead log gives atomic, crash-safe appends
and deletes with checksummed frames and recovery on open, which hand-rolled append files would have
to reimplement (torn writes, fsync ordering, directory fsync, compaction). It is in the standard
library and one of the most tested storage engines there is. WAL lets a reader (metrics) run while
the sender writes; synchronous=FULL fsyncs the WAL on every commit, so a batch that `append`
returned for survives a power cut, not only a process crash.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from epd.v1 import telemetry_pb2
from epd_connector.errors import ConnectorError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled_batch (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: an acked seq is never reused
    batch_id    TEXT NOT NULL UNIQUE,
    plant_id    TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    payload     BLOB NOT NULL,
    size_bytes  INTEGER NOT NULL,
    appended_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS plant_sequence (
    plant_id      TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_stream (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
    stream_id  TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


class SpoolFull(ConnectorError):
    """The spool would exceed its size bound; the batch was not stored."""


class SpoolError(ConnectorError):
    """The spool file cannot be used (corrupt, not a spool, unreadable)."""


@dataclass(frozen=True)
class SpooledBatch:
    seq: int
    batch_id: str
    signed: telemetry_pb2.SignedTelemetryBatch
    appended_at: float


class Spool:
    """Bounded FIFO of SignedTelemetryBatch on disk. One writer process per file."""

    def __init__(self, path: str | Path, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._clock = clock
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self.stream_id = self._stream_id()
        except sqlite3.DatabaseError as exc:
            raise SpoolError(f"{self.path}: cannot open spool: {exc}") from exc

    def _stream_id(self) -> str:
        """The spool's batch stream, made when the spool is first opened: batch sequences count within it,
        so a new spool (the old one lost) starts a stream whose batch ids no earlier stream used."""
        self._db.execute(
            "INSERT OR IGNORE INTO batch_stream (only_row, stream_id, created_at) VALUES (1, ?, ?)",
            (str(uuid.uuid4()), self._clock()),
        )
        return str(self._db.execute("SELECT stream_id FROM batch_stream").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, signed: telemetry_pb2.SignedTelemetryBatch) -> int:
        """Store a batch durably and return its spool seq; idempotent per batch id.

        Raises SpoolFull (nothing stored) when the payload would exceed `max_bytes`.
        """
        batch = telemetry_pb2.TelemetryBatch()
        batch.ParseFromString(signed.batch)
        if not batch.batch_id:
            raise ValueError("signed batch carries no batch_id")
        payload = signed.SerializeToString(deterministic=True)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT seq FROM spooled_batch WHERE batch_id = ?", (batch.batch_id,)).fetchone()
            if row is not None:
                self._db.execute("COMMIT")
                return int(row[0])
            used = self._bytes_used()
            if used + len(payload) > self.max_bytes:
                raise SpoolFull(
                    f"spool {self.path} holds {used} of {self.max_bytes} bytes; batch of {len(payload)} refused"
                )
            cur = self._db.execute(
                "INSERT INTO spooled_batch (batch_id, plant_id, sequence, payload, size_bytes, appended_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (batch.batch_id, batch.plant_id, batch.sequence, payload, len(payload), self._clock()),
            )
            self._db.execute(
                "INSERT INTO plant_sequence (plant_id, last_sequence) VALUES (?, ?)"
                " ON CONFLICT(plant_id) DO UPDATE SET last_sequence = max(last_sequence, excluded.last_sequence)",
                (batch.plant_id, batch.sequence),
            )
            self._db.execute("COMMIT")
            return int(cur.lastrowid)  # type: ignore[arg-type]
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def pending(self, limit: int = 100) -> list[SpooledBatch]:
        """Unacked batches, oldest first."""
        rows = self._db.execute(
            "SELECT seq, batch_id, payload, appended_at FROM spooled_batch ORDER BY seq LIMIT ?", (max(0, limit),)
        ).fetchall()
        out = []
        for seq, batch_id, payload, appended_at in rows:
            signed = telemetry_pb2.SignedTelemetryBatch()
            signed.ParseFromString(payload)
            out.append(SpooledBatch(int(seq), batch_id, signed, float(appended_at)))
        return out

    def ack(self, seq: int) -> bool:
        """Remove a batch after the broker acked it; False if it was already gone."""
        cur = self._db.execute("DELETE FROM spooled_batch WHERE seq = ?", (seq,))
        return cur.rowcount > 0

    def depth(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM spooled_batch").fetchone()[0])

    def oldest_age_seconds(self) -> float:
        """Age of the oldest unacked batch; 0.0 when the spool is empty."""
        row = self._db.execute("SELECT min(appended_at) FROM spooled_batch").fetchone()
        return 0.0 if row[0] is None else max(0.0, self._clock() - float(row[0]))

    def bytes_used(self) -> int:
        """Payload bytes held (the bound is on payload, not on the SQLite file's pages)."""
        return self._bytes_used()

    def fill_ratio(self) -> float:
        """bytes_used / max_bytes, for a gauge that alarms before the spool fills."""
        return self._bytes_used() / self.max_bytes

    def last_sequence(self, plant_id: str) -> int | None:
        """Highest batch sequence ever spooled for the plant (kept after acks), to resume the batcher."""
        row = self._db.execute("SELECT last_sequence FROM plant_sequence WHERE plant_id = ?", (plant_id,)).fetchone()
        return None if row is None else int(row[0])

    def _bytes_used(self) -> int:
        return int(self._db.execute("SELECT coalesce(sum(size_bytes), 0) FROM spooled_batch").fetchone()[0])
