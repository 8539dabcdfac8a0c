"""The topic registry: every Kafka topic, its one protobuf message type, key and partitions.

Declared once here (DESIGN.md section 2); producers, consumers, the stack bootstrap and the
faust app all read it, so a topic's contract cannot drift between services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError, Message

from epd.v1 import dead_letter_pb2, footprint_pb2, intensity_pb2, telemetry_pb2
from epd_common.errors import CommonError

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class TopicSpec(Generic[M]):
    name: str
    message_type: type[M]
    key: str  # the domain id the records are keyed by, e.g. "plant_id"
    partitions: int
    compacted: bool = False
    retention_ms: int | None = None
    extra_config: dict[str, str] = field(default_factory=dict)

    def topic(self, prefix: str = "") -> str:
        """The topic's name in an environment whose settings carry `topic_prefix`."""
        return prefix + self.name

    def encode(self, message: M) -> bytes:
        if not isinstance(message, self.message_type):
            raise TypeError(f"{self.name} carries {self.message_type.__name__}, not {type(message).__name__}")
        return message.SerializeToString(deterministic=True)

    def decode(self, payload: bytes) -> M:
        """Parse a record value; raises MalformedRecord for bytes that are not this message."""
        msg = self.message_type()
        try:
            msg.ParseFromString(payload)
        except (DecodeError, RuntimeWarning, ValueError) as exc:
            raise MalformedRecord(f"{self.name}: not a {self.message_type.__name__}: {exc}") from exc
        return msg

    def topic_config(self) -> dict[str, str]:
        cfg = dict(self.extra_config)
        if self.compacted:
            cfg["cleanup.policy"] = "compact"
        if self.retention_ms is not None:
            cfg["retention.ms"] = str(self.retention_ms)
        return cfg


class MalformedRecord(CommonError):
    """A record value that does not parse as the topic's message type."""


@dataclass(frozen=True)
class Replication:
    """How a topic survives broker loss: `factor` brokers hold each partition, and a write with acks=all
    is acknowledged once `min_insync` of them have it (so up to factor - min_insync brokers may be down
    while producers keep writing, and an acknowledged write survives the loss of min_insync - 1).

    Chosen per environment by `ServiceSettings.topic_replication` (EPD_ENVIRONMENT,
    EPD_KAFKA_REPLICATION_FACTOR, EPD_KAFKA_MIN_INSYNC_REPLICAS); every topic the platform creates,
    the faust changelogs included, gets it."""

    factor: int
    min_insync: int

    def __post_init__(self) -> None:
        if not 1 <= self.min_insync <= self.factor:
            raise ValueError(f"need 1 <= min.insync.replicas ({self.min_insync}) <= replication factor ({self.factor})")

    def topic_config(self) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync)}


# One broker: the local stack (make stack-up) and the tests' own single-node clusters.
SINGLE_BROKER = Replication(factor=1, min_insync=1)


TELEMETRY_RAW = TopicSpec("epd.telemetry.raw.v1", telemetry_pb2.SignedTelemetryBatch, "plant_id", 3)
# Validated readings, many per record (epd_common.reading_batches). v2 because the record changed from one
# Reading to a ReadingBatch: a worker built for v1 subscribes to a topic ingest no longer writes, so it
# idles instead of misreading a batch (whose bytes can even parse as one Reading with a garbled id).
TELEMETRY_READINGS = TopicSpec("epd.telemetry.readings.v2", telemetry_pb2.ReadingBatch, "plant_id", 3)
TELEMETRY_REJECTED = TopicSpec("epd.telemetry.rejected.v1", telemetry_pb2.RejectedReading, "plant_id", 3)
INTENSITY_WINDOWS = TopicSpec("epd.intensity.windows.v1", intensity_pb2.IntensityWindow, "process_id", 3)
FOOTPRINT_CHANGES = TopicSpec("epd.footprint.changes.v1", footprint_pb2.FootprintChanged, "product_id", 3)
FOOTPRINT_RECORDS = TopicSpec(
    "epd.footprint.records.v1", footprint_pb2.FootprintVersion, "product_id", 3, compacted=True
)

# Dead-letter topics (epd_common.dead_letters): records a consumer gave up on, with the reason, keyed as
# the source record. One per consumed topic whose consumer sets records aside: the footprint service's
# windows consumer and the publisher's partner fan-out. Kept 30 days.
#: The intensity worker's own topic of late-reading corrections (raw bytes, no proto): it alone uses it.
INTENSITY_CORRECTIONS = "epd.intensity.corrections.v1"

DEAD_LETTER_RETENTION_MS = 30 * 24 * 3600 * 1000
INTENSITY_WINDOWS_DEAD_LETTERS = TopicSpec(
    "epd.intensity.windows.dead-letters.v1",
    dead_letter_pb2.DeadLetter,
    "process_id",
    1,
    retention_ms=DEAD_LETTER_RETENTION_MS,
)
FOOTPRINT_CHANGES_DEAD_LETTERS = TopicSpec(
    "epd.footprint.changes.dead-letters.v1",
    dead_letter_pb2.DeadLetter,
    "product_id",
    1,
    retention_ms=DEAD_LETTER_RETENTION_MS,
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    TELEMETRY_RAW,
    TELEMETRY_READINGS,
    TELEMETRY_REJECTED,
    INTENSITY_WINDOWS,
    FOOTPRINT_CHANGES,
    FOOTPRINT_RECORDS,
    INTENSITY_WINDOWS_DEAD_LETTERS,
    FOOTPRINT_CHANGES_DEAD_LETTERS,
)

BY_NAME: dict[str, TopicSpec] = {t.name: t for t in ALL_TOPICS}
