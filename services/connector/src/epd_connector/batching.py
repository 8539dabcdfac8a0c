"""Pure per-plant batcher: closes a TelemetryBatch on a size bound or a time bound.

No clock and no I/O inside: callers pass `now`, so tests and the async edge drive it the same way.
Batch ids are derived from plant id, stream id and sequence, so a batch resent after a crash keeps its
id and ingest can drop it as a duplicate. The stream is the spool's (spool.py): a connector whose spool
was lost starts a new stream at sequence 0, and its batch ids are new, not duplicates of the old ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from epd.v1 import telemetry_pb2

# Fixed namespace for batch ids (uuid5); changing it would change every batch id.
BATCH_ID_NAMESPACE = uuid.UUID("6f1d7c3e-2a4b-5c8d-9e0f-1a2b3c4d5e6f")


def batch_id_for(plant_id: str, sequence: int, stream_id: str = "") -> str:
    """Deterministic batch id: the same plant, stream and sequence always give the same id. Without a
    stream (spools made before streams) the id is the earlier one of plant and sequence."""
    if sequence < 0:
        raise ValueError("sequence must be >= 0")
    name = f"{plant_id}\x1f{sequence}" if not stream_id else f"{plant_id}\x1f{stream_id}\x1f{sequence}"
    return str(uuid.uuid5(BATCH_ID_NAMESPACE, name))


@dataclass
class Batcher:
    """Collects RawReadings for one plant and emits batches.

    `next_sequence` should resume from the spool's last used sequence + 1 after a restart.
    """

    plant_id: str
    max_readings: int = 100
    max_age_seconds: float = 5.0
    connector_version: str = ""
    next_sequence: int = 0
    stream_id: str = ""
    _pending: list[telemetry_pb2.RawReading] = field(default_factory=list, repr=False)
    _opened_at: datetime | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.max_readings < 1:
            raise ValueError("max_readings must be >= 1")
        if self.max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be > 0")
        if self.next_sequence < 0:
            raise ValueError("next_sequence must be >= 0")

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, reading: telemetry_pb2.RawReading, now: datetime) -> list[telemetry_pb2.TelemetryBatch]:
        """Add a reading; returns the batches closed by this call (time bound first, then size)."""
        closed = self.poll(now)
        if not self._pending:
            self._opened_at = now
        self._pending.append(reading)
        if len(self._pending) >= self.max_readings:
            closed.append(self._close(now))
        return closed

    def poll(self, now: datetime) -> list[telemetry_pb2.TelemetryBatch]:
        """Close the open batch if it is older than the time bound."""
        opened = self._opened_at
        if self._pending and opened is not None and (now - opened).total_seconds() >= self.max_age_seconds:
            return [self._close(now)]
        return []

    def seconds_until_due(self, now: datetime) -> float | None:
        """How long the edge may sleep before `poll` must run; None when nothing is pending."""
        if not self._pending or self._opened_at is None:
            return None
        return max(0.0, self.max_age_seconds - (now - self._opened_at).total_seconds())

    def flush(self, now: datetime) -> list[telemetry_pb2.TelemetryBatch]:
        """Close whatever is pending (shutdown)."""
        return [self._close(now)] if self._pending else []

    def _close(self, now: datetime) -> telemetry_pb2.TelemetryBatch:
        seq = self.next_sequence
        batch = telemetry_pb2.TelemetryBatch(
            batch_id=batch_id_for(self.plant_id, seq, self.stream_id),
            plant_id=self.plant_id,
            sequence=seq,
            readings=self._pending,
            connector_version=self.connector_version,
            stream_id=self.stream_id,
        )
        batch.created_at.FromDatetime(now)
        self.next_sequence = seq + 1
        self._pending = []
        self._opened_at = None
        return batch
