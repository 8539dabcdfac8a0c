"""Readings encoded from byte templates are exactly what the protobuf runtime writes, and the pipeline
that encodes them gives the same output and state as the one that built Reading messages
(reference_pipeline.py), reading for reading, on varied input: counters with rollovers and resets,
rate bounds, odd and unknown units, duplicates, bad values, clock edges, unknown fields."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from ingest_support import KEY_ID, METERS, NOW, PLANT, Plant, raw
from reference_pipeline import reference_process_batch

from epd.v1 import telemetry_pb2
from epd_connector import signing
from epd_ingest.encoding import ReadingTemplate, batch_field, enum_field, ingested_field, timestamp, varint
from epd_ingest.pipeline import IngestConfig, IngestState, process_batch
from epd_ingest.registry import InMemoryPlantRegistry, MeterSpec, meter_from_mapping

AK = telemetry_pb2.ActivityKind


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -(2**31), -(2**63)])
def test_varint_matches_the_runtime(n):
    ts = telemetry_pb2.TelemetryBatch(sequence=n & (2**64 - 1))  # uint64 field 3
    assert ts.SerializeToString() == enum_field(3, n)
    assert varint(n) == enum_field(3, n)[1:] or n == 0


TEMPLATE_CASES = [
    # (process, activity kind, activity, product, batch id, plant)
    ("p/roasting", AK.ACTIVITY_KIND_ELECTRICITY, "electricity.grid", "", "b-1", "plant"),
    ("", 0, "", "", "", "plant"),
    ("p/π-stage", AK.ACTIVITY_KIND_PRODUCT_OUTPUT, "output.nd-oxide", "NdPr-oxide", "b" * 200, "p" * 130),
    ("x" * 127, -5, "a" * 128, "prod", "b", "p"),
]
READING_CASES = [
    # (seconds, nanos, quantity, unit, quality)
    (1_740_000_000, 0, "3250", "kWh", telemetry_pb2.READING_QUALITY_GOOD),
    (1_740_000_000, 999_999_999, "0", "GJ", 0),
    (0, 0, "0.000000000001", "kg", 2),
    (-62_135_596_800, 1, "1" * 28, "Nm3", -3),
    (253_402_300_799, 5, "12.5", "L" * 130, 2**31 - 1),
    (1, 0, "", "", 7),
]


@pytest.mark.parametrize("shared", TEMPLATE_CASES)
@pytest.mark.parametrize("own", READING_CASES)
def test_a_template_encodes_what_the_runtime_serialises(shared, own):
    process, kind, activity, product, batch_id, plant = shared
    seconds, nanos, quantity, unit, quality = own
    meter = MeterSpec("m.1", process, kind, activity, telemetry_pb2.READING_KIND_INTERVAL, product_id=product)
    ingested = telemetry_pb2.Reading().ingested_at
    ingested.FromDatetime(NOW)
    template = ReadingTemplate(plant, meter, batch_field(batch_id), ingested_field(ingested.SerializeToString()))
    rid, digest = "0123456789abcdef" * 2, "f" * 64
    expected = telemetry_pb2.Reading(
        reading_id=rid,
        plant_id=plant,
        process_id=process,
        meter_id="m.1",
        activity_kind=kind,
        activity=activity,
        quantity=quantity,
        unit=unit,
        quality=quality,
        batch_id=batch_id,
        reading_hash=digest,
        product_id=product,
    )
    expected.observed_at.seconds, expected.observed_at.nanos = seconds, nanos
    expected.ingested_at.CopyFrom(ingested)
    own_fields = (rid.encode(), timestamp(seconds, nanos), quantity.encode(), unit, quality, digest.encode())
    got = template.encode(*own_fields)
    assert got == expected.SerializeToString(deterministic=True)
    assert got == template.encode(*own_fields)  # the cached fields


EXTRA_METERS = [
    {
        "meter_id": "shipping.oxide",
        "process_id": f"{PLANT}/shipping",
        "activity_kind": "product_output",
        "activity": "output.nd-oxide",
        "unit": "t",
        "kind": "counter",
        "rollover": "100000",
        "product_id": "NdPr-oxide",
    },
    {
        "meter_id": "roasting.steam-rated",
        "process_id": f"{PLANT}/roasting",
        "activity_kind": "steam",
        "activity": "steam.purchased",
        "unit": "MJ",
        "kind": "interval",
        "max_rate_per_hour": "900",
        "interval_seconds": 30,
    },
]
GOOD_VALUES = ["0", "1", "2.5", "3.25", "10", "99.9", "1000", "999990", "15", "1e3", "1E-3", "0.000", " 7 ", "0.5"]
BAD_VALUES = ["-1", "-0", "NaN", "inf", "abc", "", "1e16", "1e-13", "12345678901234567890123456789", "5000", "40000"]
UNITS = {  # by meter: units it reads in, then units it must refuse or may not know
    "roasting.electricity": ["kWh", "MWh", "Wh", "kW*h"],
    "roasting.electricity-total": ["kWh", "MWh"],
    "roasting.coal": ["t", "kg", "g", "GJ", "Nm3"],
    "roasting.h2so4": ["t", "kg", "L", "m3", "m³"],
    "roasting.steam": ["GJ", "MJ", "t"],
    "roasting.natural-gas": ["Nm3"],
    "shipping.oxide": ["t", "kg"],
    "roasting.steam-rated": ["MJ", "GJ"],
}
ODD_UNITS = ["furlong", "", "%%", "kWh", "Nm3", "L"]
QUALITIES = [0, 1, 2, 3, 4, 9, -2]


def _random_reading(rnd: random.Random, meters: list[str], at_s: int) -> telemetry_pb2.RawReading:
    meter = rnd.choice(meters)
    odd = rnd.random() < 0.2
    r = raw(
        meter,
        rnd.choice(BAD_VALUES if odd and rnd.random() < 0.5 else GOOD_VALUES),
        rnd.choice(ODD_UNITS if odd and rnd.random() < 0.5 else UNITS.get(meter, ["kWh"])),
        NOW + timedelta(seconds=at_s),
        kind=rnd.choice([1, 2]) if odd and rnd.random() < 0.3 else 0,
        quality=rnd.choice(QUALITIES) if odd else 1,
    )
    r.observed_at.nanos = rnd.choice([0, 0, 0, 1, 999_999_999, 500_000])
    if odd and rnd.random() < 0.1:
        r.ClearField("observed_at")
    if odd and rnd.random() < 0.1:
        r.observed_at.nanos = -1
    if odd and rnd.random() < 0.1:
        r.observed_at.seconds += rnd.choice([1, -1]) * 3600 * 24 * 30  # a month early or late
    if rnd.random() < 0.05:  # an unknown field inside observed_at (copied into the Reading as it was)
        r.observed_at.MergeFromString(b"\x18\x05")
    return r


@pytest.mark.parametrize("seed", range(6))
def test_the_pipeline_matches_the_message_building_reference(seed):
    rnd = random.Random(seed)
    key = signing.generate_private_key()
    registry = InMemoryPlantRegistry()
    registry.register(PLANT, {KEY_ID: key.public_key()}, [meter_from_mapping(m) for m in METERS + EXTRA_METERS])
    config = IngestConfig()
    plant = Plant(key, registry, IngestState.for_config(config), config)
    new_state, old_state = IngestState.for_config(plant.config), IngestState.for_config(plant.config)
    meters = [m["meter_id"] for m in METERS + EXTRA_METERS] + ["no.such-meter"]
    sent: list[bytes] = []
    accepted = rejected = 0
    for b in range(40):
        if sent and rnd.random() < 0.1:
            record = rnd.choice(sent)  # a batch sent again
        else:
            base = -3600 * 24 * 7 + b * 3 * 3600 + rnd.randint(-4000, 4000)  # from the lateness bound on
            readings = [
                _random_reading(rnd, meters, base + rnd.randint(0, 360) * 30) for _ in range(rnd.randint(1, 60))
            ]
            readings += [rnd.choice(readings) for _ in range(rnd.randint(0, 5))]  # repeats within the batch
            record = plant.bytes(*readings)
            sent.append(record)
        new = process_batch(record, registry, new_state, NOW, plant.config)
        old = reference_process_batch(record, registry, old_state, NOW, plant.config)
        assert new.encoded == [r.SerializeToString(deterministic=True) for r in old.accepted]
        assert [r.SerializeToString(deterministic=True) for r in new.rejected] == [
            r.SerializeToString(deterministic=True) for r in old.rejected
        ]
        assert new.unknown_signer == old.unknown_signer
        accepted, rejected = accepted + len(new.encoded), rejected + len(new.rejected)
        if rnd.random() < 0.3:  # a save between polls
            assert new_state.take_changes() == old_state.take_changes()
    assert new_state.take_changes() == old_state.take_changes()
    assert accepted > 200 and rejected > 200, (accepted, rejected)  # both paths well exercised
    assert new_state.counters == old_state.counters
    for p, m in [(PLANT, x) for x in meters]:
        assert new_state.dedupe.meter_snapshot(p, m) == old_state.dedupe.meter_snapshot(p, m)
