"""Readings in batches on epd.telemetry.readings.v2 (one ReadingBatch per record, keyed by plant).

Ingest packs a plant's accepted readings into as few records as fit under `MAX_BATCH_BYTES`, in their
order; the intensity worker unpacks them and handles each reading as before. A reading's id, hash and
evidence are its own: batches only carry them, so where a batch boundary falls changes nothing
downstream (consumers dedupe per reading).

`unpack` never raises: a record that does not parse as a ReadingBatch is parsed again frame by frame
(ReadingBatchFrames has the same field numbers and wire types), so one reading whose bytes are broken is
set aside alone and the others of its batch are still handled; only bytes that are not a batch at all
(no frame structure) are refused as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from epd.v1 import telemetry_pb2

# Below the producer's batch size (epd_common.kafka.PRODUCER_DEFAULTS max_batch_size, 256 KiB) and far
# below the broker's message.max.bytes (1 MiB by default), with room for the record's key and headers.
MAX_BATCH_BYTES = 240 * 1024

_PARSE_ERRORS = (DecodeError, RuntimeWarning, ValueError)


def pack(plant_id: str, readings: Sequence[telemetry_pb2.Reading], max_bytes: int = MAX_BATCH_BYTES) -> list[bytes]:
    """The readings as ReadingBatch record values of at most `max_bytes` each (a single reading larger
    than that still gets a record of its own), in order; none for no readings.

    Each reading is serialised once and framed as field 1 of a ReadingBatch, the plant id appended as
    field 2: the bytes `ReadingBatch.SerializeToString(deterministic=True)` gives (fields in number
    order), without building a batch message, which copies every reading, per record."""
    return pack_encoded(plant_id, [r.SerializeToString(deterministic=True) for r in readings], max_bytes)


def pack_encoded(plant_id: str, bodies: Sequence[bytes], max_bytes: int = MAX_BATCH_BYTES) -> list[bytes]:
    """`pack` of readings already serialised (each `Reading.SerializeToString(deterministic=True)`,
    as ingest encodes them)."""
    if not bodies:
        return []
    encoded = plant_id.encode()
    tail = b"\x12" + varint(len(encoded)) + encoded if encoded else b""
    records: list[bytes] = []
    frames: list[bytes] = []
    size = len(tail)
    for body in bodies:
        n = len(body)
        frame = (_TAGGED[n] if n < _CACHED else b"\x0a" + varint(n)) + body
        if frames and size + len(frame) > max_bytes:
            frames.append(tail)
            records.append(b"".join(frames))
            frames, size = [], len(tail)
        frames.append(frame)
        size += len(frame)
    frames.append(tail)
    records.append(b"".join(frames))
    return records


def varint(n: int) -> bytes:
    """Protobuf base-128 varint; negative values as their 64-bit two's complement (int32, int64, enums)."""
    if 0 <= n < 0x80:
        return _SMALL[n]
    n &= _MASK64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_MASK64 = (1 << 64) - 1
_SMALL = tuple(bytes((n,)) for n in range(0x80))


# Field 1's tag and the length, for the lengths a reading has (a few hundred bytes): made once.
_CACHED = 1 << 14
_TAGGED = tuple(b"\x0a" + varint(n) for n in range(_CACHED))


@dataclass
class Unpacked:
    """What one record carried: the readings that parse, and for each reading that does not, its bytes
    and why. `malformed` is set when the record is not a batch at all (`readings` is then empty)."""

    readings: list[telemetry_pb2.Reading] = field(default_factory=list)
    bad: list[tuple[bytes, str]] = field(default_factory=list)
    malformed: str | None = None


def unpack(payload: bytes) -> Unpacked:
    batch = telemetry_pb2.ReadingBatch()
    try:
        batch.ParseFromString(payload)
    except _PARSE_ERRORS:
        pass
    else:
        return Unpacked(readings=list(batch.readings))
    frames = telemetry_pb2.ReadingBatchFrames()
    try:
        frames.ParseFromString(payload)
    except _PARSE_ERRORS as exc:
        return Unpacked(malformed=f"not a ReadingBatch: {exc}")
    out = Unpacked()
    for frame in frames.readings:
        reading = telemetry_pb2.Reading()
        try:
            reading.ParseFromString(frame)
        except _PARSE_ERRORS as exc:
            out.bad.append((frame, f"reading in a batch is not a Reading: {exc}"))
        else:
            out.readings.append(reading)
    return out
