"""Batcher: size and time bounds, deterministic batch ids, sequence resumption."""

from datetime import UTC, datetime, timedelta

import pytest

from epd.v1 import telemetry_pb2
from epd_connector.batching import Batcher, batch_id_for

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _reading(i: int) -> telemetry_pb2.RawReading:
    r = telemetry_pb2.RawReading(meter_id="roasting.electricity", value=str(i), unit="kWh")
    r.observed_at.FromDatetime(T0 + timedelta(seconds=i))
    return r


def test_size_bound_closes_batch_at_max_readings():
    b = Batcher("baotou-smelter", max_readings=3, max_age_seconds=60)
    assert b.add(_reading(0), T0) == []
    assert b.add(_reading(1), T0) == []
    closed = b.add(_reading(2), T0)
    assert len(closed) == 1 and len(closed[0].readings) == 3
    assert [r.value for r in closed[0].readings] == ["0", "1", "2"]
    assert len(b) == 0


def test_time_bound_closes_batch_on_poll_and_on_add():
    b = Batcher("p", max_readings=100, max_age_seconds=5)
    b.add(_reading(0), T0)
    assert b.poll(T0 + timedelta(seconds=4.9)) == []
    assert b.seconds_until_due(T0 + timedelta(seconds=4)) == pytest.approx(1.0)
    closed = b.poll(T0 + timedelta(seconds=5))
    assert len(closed) == 1 and len(closed[0].readings) == 1
    assert b.seconds_until_due(T0) is None
    # a late add first closes the overdue batch, then opens a new one
    b.add(_reading(1), T0 + timedelta(seconds=10))
    closed = b.add(_reading(2), T0 + timedelta(seconds=16))
    assert [len(c.readings) for c in closed] == [1]
    assert len(b) == 1


def test_batch_ids_are_deterministic_from_plant_and_sequence():
    a = Batcher("baotou-smelter", max_readings=1)
    b = Batcher("baotou-smelter", max_readings=1)
    ba = [a.add(_reading(i), T0)[0] for i in range(3)]
    bb = [b.add(_reading(i), T0)[0] for i in range(3)]
    assert [x.batch_id for x in ba] == [x.batch_id for x in bb]
    assert [x.sequence for x in ba] == [0, 1, 2]
    assert len({x.batch_id for x in ba}) == 3
    assert ba[1].batch_id == batch_id_for("baotou-smelter", 1)
    assert batch_id_for("other-plant", 1) != batch_id_for("baotou-smelter", 1)


def test_resumes_sequence_and_flushes():
    b = Batcher("p", max_readings=10, next_sequence=42, connector_version="1.2.3")
    b.add(_reading(0), T0)
    (batch,) = b.flush(T0)
    assert batch.sequence == 42 and batch.connector_version == "1.2.3" and batch.plant_id == "p"
    assert batch.created_at.ToDatetime(tzinfo=UTC) == T0
    assert b.flush(T0) == []


@pytest.mark.parametrize(
    "kwargs", [{"max_readings": 0}, {"max_age_seconds": 0}, {"max_age_seconds": -1}, {"next_sequence": -1}]
)
def test_rejects_out_of_range_bounds(kwargs):
    with pytest.raises(ValueError):
        Batcher("p", **kwargs)


def test_negative_sequence_id_rejected():
    with pytest.raises(ValueError):
        batch_id_for("p", -1)
