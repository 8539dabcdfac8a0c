"""Table-driven bad input through process_batch: each class ends as a RejectedReading with its
reason code and the original payload; nothing raises."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from ingest_support import NOW, PLANT, Plant, raw, ts

from epd.v1 import telemetry_pb2
from epd_connector import signing
from epd_ingest.pipeline import process_batch

RR = telemetry_pb2.RejectionReason
BATCH, READING = "batch", "reading"


@dataclass
class Case:
    name: str
    reason: int
    level: str
    # builds (prior records to ingest first, the bad record, the bad RawReading for reading-level cases)
    build: Callable[[Plant], tuple[list[bytes], bytes, telemetry_pb2.RawReading | None]]


def _reading_case(
    name: str,
    reason: int,
    bad: Callable[[], telemetry_pb2.RawReading],
    prior: Callable[[], list[telemetry_pb2.RawReading]] = list,
) -> Case:
    def build(p: Plant):
        priors = [p.bytes(r) for r in prior()]
        r = bad()
        return priors, p.bytes(r), r

    return Case(name, reason, READING, build)


def _bad_signature(p: Plant):
    other = signing.generate_private_key()
    return [], p.bytes(raw("roasting.electricity", "10"), key=other), None


def _flipped_signature(p: Plant):
    s = p.batch(raw("roasting.electricity", "10"))
    s.signature = bytes([s.signature[0] ^ 1]) + s.signature[1:]
    return [], s.SerializeToString(), None


def _short_signature(p: Plant):
    s = p.batch(raw("roasting.electricity", "10"))
    s.signature = s.signature[:63]
    return [], s.SerializeToString(), None


def _unknown_plant(p: Plant):
    return [], p.bytes(raw("roasting.electricity", "10"), plant_id="nowhere-plant"), None


def _unknown_key(p: Plant):
    return [], p.bytes(raw("roasting.electricity", "10"), key_id="retired-or-forged"), None


def _envelope_mismatch(p: Plant):
    s = p.batch(raw("roasting.electricity", "10"))
    s.plant_id = "nowhere-plant"
    p.registry.register("nowhere-plant", {"baotou-smelter-2025": p.key.public_key()}, [])
    return [], s.SerializeToString(), None


def _duplicate_batch(p: Plant):
    rec = p.bytes(raw("roasting.electricity", "10"))
    return [rec], rec, None


def _oversized_count(p: Plant):
    n = p.config.limits.max_readings + 1
    return [], p.bytes(*[raw("roasting.electricity", "1", at=ts(-i - 1)) for i in range(n)]), None


def _oversized_bytes(p: Plant):
    r = raw("roasting.electricity", "1")
    r.source_ref = "x" * (p.config.limits.max_record_bytes + 1)
    return [], p.bytes(r), None


def _garbage(data: bytes):
    return lambda p: ([], data, None)


CASES = [
    Case("bad signature (other key)", RR.REJECTION_REASON_BAD_SIGNATURE, BATCH, _bad_signature),
    Case("bad signature (flipped bit)", RR.REJECTION_REASON_BAD_SIGNATURE, BATCH, _flipped_signature),
    Case("bad signature (truncated)", RR.REJECTION_REASON_BAD_SIGNATURE, BATCH, _short_signature),
    Case("unknown key id", RR.REJECTION_REASON_BAD_SIGNATURE, BATCH, _unknown_key),
    Case("envelope plant differs from batch", RR.REJECTION_REASON_BAD_SIGNATURE, BATCH, _envelope_mismatch),
    Case("unknown plant", RR.REJECTION_REASON_UNKNOWN_PLANT, BATCH, _unknown_plant),
    Case("duplicate batch", RR.REJECTION_REASON_DUPLICATE, BATCH, _duplicate_batch),
    Case("oversized batch (readings)", RR.REJECTION_REASON_OVERSIZED_BATCH, BATCH, _oversized_count),
    Case("oversized batch (bytes)", RR.REJECTION_REASON_OVERSIZED_BATCH, BATCH, _oversized_bytes),
    Case("garbage bytes", RR.REJECTION_REASON_MALFORMED, BATCH, _garbage(b"\xff\xfe\x00garbage\x13\x37")),
    Case("empty record", RR.REJECTION_REASON_MALFORMED, BATCH, _garbage(b"")),
    Case("json instead of protobuf", RR.REJECTION_REASON_MALFORMED, BATCH, _garbage(b'{"plant_id":"x"}')),
    Case("all byte values", RR.REJECTION_REASON_MALFORMED, BATCH, _garbage(bytes(range(256)))),
    _reading_case("unknown meter", RR.REJECTION_REASON_UNKNOWN_METER, lambda: raw("roasting.nowhere", "1")),
    _reading_case("meter id with NUL", RR.REJECTION_REASON_UNKNOWN_METER, lambda: raw("roasting\x00x", "1")),
    _reading_case(
        "unknown unit", RR.REJECTION_REASON_UNKNOWN_UNIT, lambda: raw("roasting.electricity", "1", "bananas")
    ),
    _reading_case("empty unit", RR.REJECTION_REASON_UNKNOWN_UNIT, lambda: raw("roasting.electricity", "1", "")),
    _reading_case(
        "unit expression with factor",
        RR.REJECTION_REASON_UNKNOWN_UNIT,
        lambda: raw("roasting.electricity", "1", "1e9 kWh"),
    ),
    _reading_case(
        "incompatible unit (kg for electricity)",
        RR.REJECTION_REASON_INCOMPATIBLE_UNIT,
        lambda: raw("roasting.electricity", "1", "kg"),
    ),
    _reading_case(
        "incompatible unit (Nm3 for reagent)",
        RR.REJECTION_REASON_INCOMPATIBLE_UNIT,
        lambda: raw("roasting.h2so4", "1", "Nm3"),
    ),
    _reading_case("NaN", RR.REJECTION_REASON_NOT_FINITE, lambda: raw("roasting.electricity", "NaN")),
    _reading_case("signalling NaN", RR.REJECTION_REASON_NOT_FINITE, lambda: raw("roasting.electricity", "sNaN")),
    _reading_case("infinity", RR.REJECTION_REASON_NOT_FINITE, lambda: raw("roasting.electricity", "Infinity")),
    _reading_case("-infinity", RR.REJECTION_REASON_NOT_FINITE, lambda: raw("roasting.electricity", "-inf")),
    _reading_case("not a number", RR.REJECTION_REASON_MALFORMED, lambda: raw("roasting.electricity", "12,5")),
    _reading_case(
        "absurd magnitude", RR.REJECTION_REASON_OUT_OF_RANGE, lambda: raw("roasting.electricity", "1e999999")
    ),
    # 1e-999999 is a 10-character text PostgreSQL would write out as a million digits
    _reading_case(
        "vanishing magnitude", RR.REJECTION_REASON_OUT_OF_RANGE, lambda: raw("roasting.electricity", "1e-999999")
    ),
    # 1e15 EJ passes as a number but is 1e24 GJ on a steam meter: the range holds after conversion too
    _reading_case(
        "out of range once converted", RR.REJECTION_REASON_OUT_OF_RANGE, lambda: raw("roasting.steam", "1e15", "EJ")
    ),
    _reading_case(
        "too many digits", RR.REJECTION_REASON_OUT_OF_RANGE, lambda: raw("roasting.electricity", "0." + "1" * 40)
    ),
    _reading_case(
        "negative interval value", RR.REJECTION_REASON_NEGATIVE_VALUE, lambda: raw("roasting.electricity", "-3.5")
    ),
    _reading_case(
        "counter backwards without reset",
        RR.REJECTION_REASON_COUNTER_BACKWARDS,
        lambda: raw("roasting.electricity-total", "400000", at=ts(-60)),
        lambda: [raw("roasting.electricity-total", "500000", at=ts(-120))],
    ),
    _reading_case(
        "timestamp far in the future",
        RR.REJECTION_REASON_FUTURE_TIMESTAMP,
        lambda: raw("roasting.electricity", "1", at=NOW + timedelta(hours=1)),
    ),
    _reading_case(
        "timestamp too late",
        RR.REJECTION_REASON_TOO_LATE,
        lambda: raw("roasting.electricity", "1", at=NOW - timedelta(days=30)),
    ),
    _reading_case(
        "duplicate reading (meter + timestamp)",
        RR.REJECTION_REASON_DUPLICATE,
        lambda: raw("roasting.electricity", "2", at=ts(-60)),
        lambda: [raw("roasting.electricity", "1", at=ts(-60))],
    ),
    _reading_case(
        "impossible rate", RR.REJECTION_REASON_IMPLAUSIBLE_RATE, lambda: raw("roasting.electricity", "900", "MWh")
    ),
    _reading_case(
        "bad quality",
        RR.REJECTION_REASON_BAD_QUALITY,
        lambda: raw("roasting.electricity", "1", quality=telemetry_pb2.READING_QUALITY_BAD),
    ),
    _reading_case(
        "kind differs from meter",
        RR.REJECTION_REASON_MALFORMED,
        lambda: raw("roasting.electricity", "1", kind=telemetry_pb2.READING_KIND_COUNTER),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_rejected_with_reason_and_payload(plant: Plant, case: Case):
    priors, record, bad_raw = case.build(plant)
    for prior in priors:
        res = process_batch(prior, plant.registry, plant.state, NOW, plant.config)
        assert res.rejected == [] and len(res.accepted) == 1
    res = process_batch(record, plant.registry, plant.state, NOW, plant.config)
    assert res.accepted == []
    assert len(res.rejected) == 1
    rej = res.rejected[0]
    assert RR.Name(rej.reason) == RR.Name(case.reason), rej.detail
    assert rej.detail and rej.rejection_id and rej.rejected_at.ToDatetime().year == NOW.year
    if case.level == BATCH:
        assert rej.original_payload == record
    else:
        assert rej.original_payload == bad_raw.SerializeToString(deterministic=True)
        assert rej.plant_id == PLANT and rej.batch_id
    assert "\x00" not in rej.meter_id + rej.plant_id + rej.batch_id


def test_missing_timestamp_is_malformed(plant: Plant):
    r = telemetry_pb2.RawReading(meter_id="roasting.electricity", value="1", unit="kWh")
    res = process_batch(plant.bytes(r), plant.registry, plant.state, NOW, plant.config)
    assert [x.reason for x in res.rejected] == [RR.REJECTION_REASON_MALFORMED]
    assert "observed_at" in res.rejected[0].detail


def test_mixed_batch_keeps_good_readings_and_rejects_each_bad_one(plant: Plant):
    good = [raw("roasting.electricity", str(i), at=ts(-600 + 60 * i)) for i in range(3)]
    bad = [raw("roasting.electricity", "NaN", at=ts(-10)), raw("roasting.nowhere", "1")]
    res = process_batch(plant.bytes(*good, *bad), plant.registry, plant.state, NOW, plant.config)
    assert [r.quantity for r in res.accepted] == ["0", "1", "2"]
    assert sorted(r.reason for r in res.rejected) == sorted(
        [RR.REJECTION_REASON_NOT_FINITE, RR.REJECTION_REASON_UNKNOWN_METER]
    )


def test_random_bytes_never_raise(plant: Plant):
    rng = random.Random(1234)
    good = plant.bytes(raw("roasting.electricity", "1"))
    for i in range(300):
        if i % 2:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        else:  # mutate a valid record: the hostile case protobuf parsers may half-accept
            buf = bytearray(good)
            for _ in range(rng.randrange(1, 5)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            data = bytes(buf)
        res = process_batch(data, plant.registry, plant.state, NOW, plant.config)
        assert len(res.rejected) + len(res.accepted) >= 1
        for rej in res.rejected:
            assert rej.reason != RR.REJECTION_REASON_UNSPECIFIED
