"""The per-reading fast path keeps the rules: integer clock checks at the exact boundaries, the
in-order dedupe shortcut against the plain sorted-insert model, cached unit conversions, and the
state-change log the state store saves."""

import bisect
import random
from datetime import timedelta
from decimal import Decimal

from ingest_support import NOW, Plant, raw

from epd.v1 import telemetry_pb2
from epd_ingest import units
from epd_ingest.dedupe import DedupeState
from epd_ingest.pipeline import process_batch

RR = telemetry_pb2.RejectionReason
US = timedelta(microseconds=1)


def reasons(p: Plant, *readings, now=NOW):
    res = process_batch(p.bytes(*readings), p.registry, p.state, now, p.config)
    return [r.quantity for r in res.accepted], [r.reason for r in res.rejected]


def test_future_skew_boundary_is_exact_to_the_microsecond(plant: Plant):
    edge = NOW + plant.config.max_future_skew
    ok = raw("roasting.coal", "1", "t", at=edge)
    ok.observed_at.nanos += 999  # below a microsecond: truncated, as the datetime rule did
    late = raw("roasting.h2so4", "1", "t", at=edge + US)
    assert reasons(plant, ok, late) == (["1000"], [RR.REJECTION_REASON_FUTURE_TIMESTAMP])


def test_lateness_boundary_is_exact(plant: Plant):
    edge = NOW - plant.config.max_lateness
    assert reasons(plant, raw("roasting.coal", "2", "t", at=edge), raw("roasting.h2so4", "2", "t", at=edge - US)) == (
        ["2000"],
        [RR.REJECTION_REASON_TOO_LATE],
    )


def test_missing_and_out_of_range_timestamps_are_malformed(plant: Plant):
    missing = raw("roasting.coal", "1", "t")
    missing.ClearField("observed_at")
    bad_nanos = raw("roasting.h2so4", "1", "t")
    bad_nanos.observed_at.nanos = -1
    assert reasons(plant, missing, bad_nanos) == ([], [RR.REJECTION_REASON_MALFORMED] * 2)


def test_state_changes_log_what_was_accepted(plant: Plant):
    a = raw("roasting.coal", "1", "t", at=NOW - timedelta(minutes=2))
    b = raw("roasting.coal", "1", "t", at=NOW - timedelta(minutes=1))
    process_batch(plant.bytes(b, a, raw("nope", "1", "t")), plant.registry, plant.state, NOW, plant.config)
    changes = plant.state.take_changes()
    ns = [r.observed_at.seconds * 1_000_000_000 for r in (a, b)]
    assert [e[1:4] for e in changes.evidence] == [("baotou-smelter", "roasting.coal", t) for t in ns]  # time order
    assert list(changes.batches.values()) == ["baotou-smelter"]
    assert not plant.state.take_changes()  # drained


def _reference_record(stamps: list[int], floor: int | None, ts: int, window_ns: int, cap: int):
    """The dedupe rule as first written: sorted insert, then evict by window and cap."""
    bisect.insort(stamps, ts)
    cutoff = stamps[-1] - window_ns
    drop = max(bisect.bisect_left(stamps, cutoff), len(stamps) - cap)
    floors = [cutoff] if floor is None else [cutoff, floor]
    if drop > 0:
        floors.append(stamps[drop - 1] + 1)
        del stamps[:drop]
    return stamps, max(floors)


def test_dedupe_shortcut_matches_the_sorted_insert_model():
    rnd = random.Random(7)
    for _ in range(50):
        window, cap = rnd.choice([5, 50, 500]), rnd.choice([3, 20, 10_000])
        d = DedupeState(window=timedelta(seconds=window), max_per_meter=cap)
        stamps, floor = [], None
        t = 0
        for _ in range(200):
            t += rnd.choice([1, 1, 2, -3, -40, 0]) * 1_000_000_000
            if t in stamps or (floor is not None and t < floor):
                continue  # the pipeline records only readings that check_reading calls NEW
            d.record_reading("p", "m", t)
            stamps, floor = _reference_record(stamps, floor, t, window * 1_000_000_000, cap)
            assert d.meter_snapshot("p", "m") == (stamps, floor)


def test_cached_conversion_matches_pint():
    kind = telemetry_pb2.ACTIVITY_KIND_FUEL
    assert units.conversion("GJ", kind) == ("GJ", None)
    target, factor = units.conversion("MJ", kind)
    assert (target, factor) == ("GJ", Decimal("0.001"))
    q = units.unit_registry().Quantity(Decimal("12.5"), "MJ").to("GJ").magnitude
    assert units.normalise(Decimal("12.5"), "MJ", kind).quantity == q
