"""DedupeState snapshot/restore (used by the PostgreSQL state store), the rows a save passes as parameters,
and the cached unit factors."""

from decimal import Decimal

import pytest

from epd.v1 import telemetry_pb2
from epd_ingest import units
from epd_ingest.dedupe import DedupeState, Seen
from epd_ingest.pipeline import StateChanges
from epd_ingest.state_store import RowColumns


def test_restored_window_answers_like_the_original():
    a = DedupeState(max_per_meter=3)
    for ts in (10, 20, 30, 40):
        a.record_reading("p", "m", ts)
    stamps, floor = a.meter_snapshot("p", "m")
    b = DedupeState(max_per_meter=3)
    b.restore_meter("p", "m", [*stamps, 5, stamps[-1]], floor)  # a stale stamp is dropped, a repeated one kept once
    for ts in (5, 10, 20, 30, 40, 50):
        assert b.check_reading("p", "m", ts) == a.check_reading("p", "m", ts)
    assert b.meter_snapshot("p", "m") == (stamps, floor) and b.floor("p", "m") == floor
    assert b.check_reading("p", "m", 10) is Seen.BEYOND_WINDOW and b.check_reading("p", "m", 30) is Seen.DUPLICATE


def test_cached_factor_conversion_is_exact():
    kind = telemetry_pb2.ACTIVITY_KIND_ELECTRICITY
    assert units.normalise(Decimal("1.5"), "MWh", kind) == units.Normalised(Decimal("1500.0"), "kWh")
    assert units.normalise(Decimal("0.001"), "MWh", kind).quantity == Decimal(1)


def test_save_rows_as_parameters_round_trip():
    rows = [("p", "m1", 5, b"a" * 32), ("p", "m2", 6, b"b" * 32), ("p", "m1", 7, b"c" * 32)]
    cols = RowColumns.of(rows, 2, hashed=True)
    assert cols.keys == (["p", "p"], ["m1", "m2"]) and cols.indexes == "1,2,1" and cols.stamps == "5,6,7"
    assert cols.rows() == rows
    assert RowColumns.of([], 2).rows() == [] and RowColumns.of([r[:3] for r in rows], 2).rows() == [r[:3] for r in rows]
    with pytest.raises(ValueError):  # the evidence hashes are sliced by 32 bytes: no other size gets in
        RowColumns.of([*rows, ("p", "m1", 8, b"short")], 2, hashed=True)


def test_state_changes_gather_the_evidence_as_the_save_sends_it():
    rows = [("r", "p", "m1", 5, b"a" * 32), ("r", "p", "m2", 6, b"b" * 32), ("r", "p", "m1", 7, b"c" * 32)]
    changes = StateChanges()
    assert RowColumns.of_changes(changes) == RowColumns.of([], 3, hashed=True) and not changes
    for row in rows:
        changes.add_evidence(*row)
    assert changes.evidence == rows and RowColumns.of_changes(changes) == RowColumns.of(rows, 3, hashed=True)
    with pytest.raises(ValueError):
        changes.add_evidence("r", "p", "m1", 8, b"short")
