"""Dedupe state: duplicates, bounded memory, floors refuse what cannot be proven new."""

from datetime import timedelta

from epd_ingest.dedupe import DedupeState, Seen

S = 1_000_000_000


def test_duplicate_and_new():
    d = DedupeState(window=timedelta(seconds=100))
    assert d.check_reading("p", "m", 10 * S) is Seen.NEW
    d.record_reading("p", "m", 10 * S)
    assert d.check_reading("p", "m", 10 * S) is Seen.DUPLICATE
    assert d.check_reading("p", "other", 10 * S) is Seen.NEW
    assert d.check_reading("q", "m", 10 * S) is Seen.NEW
    assert d.check_reading("p", "m", 5 * S) is Seen.NEW  # late but inside the window
    assert d.high_water_ns("p", "m") == 10 * S


def test_window_evicts_and_floor_refuses_older():
    d = DedupeState(window=timedelta(seconds=100))
    for t in range(0, 1000, 10):
        d.record_reading("p", "m", t * S)
    assert d.tracked_readings() <= 11
    assert d.check_reading("p", "m", 990 * S) is Seen.DUPLICATE
    assert d.check_reading("p", "m", 10 * S) is Seen.BEYOND_WINDOW


def test_per_meter_cap_bounds_memory():
    d = DedupeState(window=timedelta(days=365), max_per_meter=50)
    for t in range(1000):
        d.record_reading("p", "m", t * S)
    assert d.tracked_readings() == 50
    assert d.check_reading("p", "m", 949 * S) is Seen.BEYOND_WINDOW
    assert d.check_reading("p", "m", 950 * S) is Seen.DUPLICATE
    assert d.check_reading("p", "m", 2000 * S) is Seen.NEW


def test_batch_ids_lru():
    d = DedupeState(max_batch_ids=3)
    for b in "abcd":
        d.record_batch(b)
    assert not d.batch_seen("a")
    assert all(d.batch_seen(b) for b in "bcd")
