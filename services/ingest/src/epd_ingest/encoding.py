"""Accepted readings encoded straight to bytes: a Reading's wire form from per-meter byte templates.

Every accepted reading leaves ingest as `Reading.SerializeToString(deterministic=True)` (framed into
ReadingBatch records by epd_common.reading_batches). Building a Reading message per reading (copy a
template, set six fields, serialise it) cost more than validating the reading; here the fields
every reading of one meter in one batch shares are encoded once (`ReadingTemplate`), and each reading
only adds its own fields, in field-number order, exactly as the protobuf runtime writes them: proto3
defaults (empty strings, zero enums and integers) are left out, negative enums and int64 take ten
bytes, and sub-messages are always present. The unit tests compare the bytes with the runtime's for
every field (tests/unit/ingest/test_ingest_encoding.py).
"""

from __future__ import annotations

from functools import lru_cache

from epd_common.reading_batches import varint
from epd_ingest.registry import MeterSpec


def tag(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def string_field(field: int, text: str) -> bytes:
    """A string field (left out when empty, as proto3 does)."""
    data = text.encode()
    return tag(field, 2) + varint(len(data)) + data if data else b""


def enum_field(field: int, value: int) -> bytes:
    """An enum or integer field (left out when zero)."""
    return tag(field, 0) + varint(value) if value else b""


def timestamp(seconds: int, nanos: int) -> bytes:
    """The body of a google.protobuf.Timestamp."""
    return enum_field(1, seconds) + enum_field(2, nanos)


def message_field(field: int, body: bytes) -> bytes:
    """A sub-message field (present even when its body is empty)."""
    return tag(field, 2) + varint(len(body)) + body


# Reading's field numbers (proto/epd/v1/telemetry.proto): the per-reading ones' tags.
_READING_ID = tag(1, 2) + varint(32)  # 32 hex characters
_OBSERVED_AT = tag(7, 2)
_QUANTITY = tag(8, 2)
_QUALITY = 10
_READING_HASH = tag(12, 2) + varint(64)  # SHA-256 in hex


class ReadingTemplate:
    """The encoded fields one meter's readings in one batch share: plant, process, meter, activity
    kind and activity (fields 2-6), the batch id (11), the ingestion time and the product (13, 14).
    The meter's fields are encoded once per meter (cached), the batch's once per batch."""

    __slots__ = ("_batch", "_head", "_middles", "_tail")

    def __init__(self, plant_id: str, meter: MeterSpec, batch_field: bytes, ingested_field: bytes) -> None:
        """`batch_field` and `ingested_field`: the batch's `batch_field` and `ingested_field`."""
        self._head, product = _meter_fields(
            plant_id, meter.process_id, meter.meter_id, meter.activity_kind, meter.activity, meter.product_id
        )
        self._batch = batch_field
        self._tail = ingested_field + product
        self._middles: dict[tuple[str, int], bytes] = {}

    def encode(
        self, reading_id: bytes, observed_at: bytes, quantity: bytes, unit: str, quality: int, reading_hash: bytes
    ) -> bytes:
        """One Reading's bytes: `observed_at` is the Timestamp's serialised body, `reading_id` 32 and
        `reading_hash` 64 hex characters (ASCII)."""
        middle = self._middles.get((unit, quality))
        if middle is None:  # unit (9), quality (10) and batch id (11): one meter's readings seldom vary in them
            middle = string_field(9, unit) + enum_field(_QUALITY, quality) + self._batch
            self._middles[(unit, quality)] = middle
        return b"".join(
            (
                _READING_ID,
                reading_id,
                self._head,
                _OBSERVED_AT,
                varint(len(observed_at)),
                observed_at,
                _QUANTITY + varint(len(quantity)) + quantity if quantity else b"",
                middle,
                _READING_HASH,
                reading_hash,
                self._tail,
            )
        )


def batch_field(batch_id: str) -> bytes:
    return string_field(11, batch_id)


def ingested_field(ingested_at: bytes) -> bytes:
    """The ingestion time field from its Timestamp's serialised body."""
    return message_field(13, ingested_at)


@lru_cache(maxsize=65_536)
def _meter_fields(
    plant_id: str, process_id: str, meter_id: str, activity_kind: int, activity: str, product_id: str
) -> tuple[bytes, bytes]:
    """(fields 2-6, field 14) of a meter's readings (cached by its fields: a MeterSpec hashes slower)."""
    head = (
        string_field(2, plant_id)
        + string_field(3, process_id)
        + string_field(4, meter_id)
        + enum_field(5, activity_kind)
        + string_field(6, activity)
    )
    return head, string_field(14, product_id)
