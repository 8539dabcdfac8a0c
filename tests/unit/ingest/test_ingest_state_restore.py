"""DedupeState snapshot/restore (used by the PostgreSQL state store) and the cached unit factors."""

from decimal import Decimal

from epd.v1 import telemetry_pb2
from epd_ingest import units
from epd_ingest.dedupe import DedupeState, Seen


def test_restored_window_answers_like_the_original():
    a = DedupeState(max_per_meter=3)
    for ts in (10, 20, 30, 40):
        a.record_reading("p", "m", ts)
    stamps, floor = a.meter_snapshot("p", "m")
    b = DedupeState(max_per_meter=3)
    b.restore_meter("p", "m", [*stamps, 5], floor)  # a stale stamp below the floor is dropped
    for ts in (5, 10, 20, 30, 40, 50):
        assert b.check_reading("p", "m", ts) == a.check_reading("p", "m", ts)
    assert b.check_reading("p", "m", 10) is Seen.BEYOND_WINDOW and b.check_reading("p", "m", 30) is Seen.DUPLICATE


def test_cached_factor_conversion_is_exact():
    kind = telemetry_pb2.ACTIVITY_KIND_ELECTRICITY
    assert units.normalise(Decimal("1.5"), "MWh", kind) == units.Normalised(Decimal("1500.0"), "kWh")
    assert units.normalise(Decimal("0.001"), "MWh", kind).quantity == Decimal(1)
