"""ReadingBatch packing and unpacking (epd_common.reading_batches): order, size bound, and bad bytes set
aside alone."""

from __future__ import annotations

from epd.v1 import telemetry_pb2
from epd_common.reading_batches import MAX_BATCH_BYTES, pack, unpack


def reading(n: int, plant: str = "baotou-1") -> telemetry_pb2.Reading:
    r = telemetry_pb2.Reading(
        reading_id=f"{n:032x}",
        plant_id=plant,
        process_id=f"{plant}/roasting",
        meter_id="m-1",
        activity="electricity.grid",
        quantity=f"{n}.5",
        unit="kWh",
        reading_hash="ab" * 32,
        batch_id=f"b-{n // 10}",
    )
    r.observed_at.FromSeconds(1_710_000_000 + n)
    return r


def test_one_record_carries_every_reading_in_order_with_each_readings_own_fields():
    readings = [reading(n) for n in range(300)]
    records = pack("baotou-1", readings)
    assert len(records) == 1
    unpacked = unpack(records[0])
    assert unpacked.readings == readings and not unpacked.bad and unpacked.malformed is None
    assert telemetry_pb2.ReadingBatch.FromString(records[0]).plant_id == "baotou-1"


def test_records_stay_under_the_size_bound_and_keep_the_order_across_them():
    readings = [reading(n) for n in range(5000)]
    records = pack("baotou-1", readings, max_bytes=20_000)
    assert len(records) > 1 and all(len(r) <= 20_000 for r in records)
    assert [r for value in records for r in unpack(value).readings] == readings
    assert all(len(v) <= MAX_BATCH_BYTES for v in pack("baotou-1", readings))


def test_packed_bytes_are_the_deterministic_serialisation_of_the_batch():
    for readings in ([reading(0)], [reading(n) for n in range(700)], [reading(n, plant="p" * 200) for n in range(3)]):
        plant = readings[0].plant_id
        (value,) = pack(plant, readings, max_bytes=10**9)
        assert value == telemetry_pb2.ReadingBatch(plant_id=plant, readings=readings).SerializeToString(
            deterministic=True
        )
    assert pack("", [reading(1)]) == [telemetry_pb2.ReadingBatch(readings=[reading(1)]).SerializeToString()]


def test_packing_is_deterministic_and_nothing_is_packed_for_no_readings():
    readings = [reading(n) for n in range(50)]
    assert pack("baotou-1", readings) == pack("baotou-1", list(readings))
    assert pack("baotou-1", []) == []


def test_a_reading_whose_bytes_do_not_parse_is_set_aside_alone():
    good = [reading(n) for n in range(4)]
    frames = telemetry_pb2.ReadingBatchFrames(plant_id="baotou-1")
    broken = b"\x0a\x05ab"  # a 5-byte string with 2 present
    invalid_utf8 = telemetry_pb2.ReadingBatchFrames(readings=[b"\x0a\x02\xff\xfe"]).readings[0]
    frames.readings.extend([good[0].SerializeToString(), broken, good[1].SerializeToString()])
    frames.readings.extend([invalid_utf8, good[2].SerializeToString(), good[3].SerializeToString()])
    unpacked = unpack(frames.SerializeToString())
    assert unpacked.readings == good
    assert [frame for frame, _ in unpacked.bad] == [broken, invalid_utf8]
    assert all("not a Reading" in why for _, why in unpacked.bad)
    assert unpacked.malformed is None


def test_bytes_that_are_no_batch_are_malformed_as_a_whole():
    for garbage in (b"\xff\xfe\x00garbage", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"\x12\x02\xff\xfe"):
        unpacked = unpack(garbage)
        assert unpacked.malformed and not unpacked.readings and not unpacked.bad
    assert unpack(b"").readings == [] and unpack(b"").malformed is None  # empty: the worker refuses it
