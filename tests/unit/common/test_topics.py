import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import telemetry_pb2
from epd_common import topics


def test_every_topic_of_the_design_is_registered_once_with_one_message_type():
    names = [t.name for t in topics.ALL_TOPICS]
    assert names == sorted(set(names), key=names.index)
    assert set(names) == {
        "epd.telemetry.raw.v1",
        "epd.telemetry.readings.v2",
        "epd.telemetry.rejected.v1",
        "epd.intensity.windows.v1",
        "epd.footprint.changes.v1",
        "epd.footprint.records.v1",
        "epd.intensity.windows.dead-letters.v1",
        "epd.footprint.changes.dead-letters.v1",
    }
    assert topics.FOOTPRINT_RECORDS.topic_config()["cleanup.policy"] == "compact"
    assert topics.TELEMETRY_RAW.key == "plant_id" and topics.INTENSITY_WINDOWS.key == "process_id"
    # v2 carries batches of readings (v1 carried one Reading a record), keyed by plant as before.
    assert topics.TELEMETRY_READINGS.message_type is telemetry_pb2.ReadingBatch
    assert topics.TELEMETRY_READINGS.key == "plant_id"


def test_encode_refuses_another_message_type():
    with pytest.raises(TypeError):
        topics.TELEMETRY_READINGS.encode(telemetry_pb2.RejectedReading())


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"\x0a\x05ab", bytes(range(256))])
def test_decode_of_garbage_raises_malformed_record(garbage):
    with pytest.raises(topics.MalformedRecord):
        topics.TELEMETRY_RAW.decode(garbage)


def test_encoding_is_deterministic():
    r = telemetry_pb2.Reading(reading_id="a", plant_id="p", quantity="1.5", observed_at=Timestamp(seconds=10))
    batch = telemetry_pb2.ReadingBatch(plant_id="p", readings=[r, r])
    assert topics.TELEMETRY_READINGS.encode(batch) == topics.TELEMETRY_READINGS.encode(batch)
    assert topics.TELEMETRY_READINGS.decode(topics.TELEMETRY_READINGS.encode(batch)) == batch
