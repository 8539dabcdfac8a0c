"""Counter -> delta: normal, baseline, rollover, reset, backwards."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from epd_ingest.counters import CounterEvent, CounterPoint, counter_delta

T = datetime(2025, 3, 1, tzinfo=UTC)


def prev(v: str) -> CounterPoint:
    return CounterPoint(Decimal(v), T)


@pytest.mark.parametrize(
    ("previous", "current", "kwargs", "event", "delta"),
    [
        (None, "123", {}, CounterEvent.BASELINE, "0"),
        ("100", "150.5", {}, CounterEvent.NORMAL, "50.5"),
        ("100", "100", {}, CounterEvent.NORMAL, "0"),
        # 6-digit register: 999990 -> 15 wrapped through 1e6
        ("999990", "15", {"rollover_modulus": Decimal("1000000")}, CounterEvent.ROLLOVER, "25"),
        # previous far from the top: not a wrap; 15 <= 1% of 500000 -> reset
        ("500000", "15", {"rollover_modulus": Decimal("1000000")}, CounterEvent.RESET, "15"),
        # near the top but the wrapped delta would be more than half the register: not a wrap
        ("950000", "600000", {"rollover_modulus": Decimal("1000000")}, CounterEvent.BACKWARDS, None),
        ("80000", "3", {}, CounterEvent.RESET, "3"),
        ("80000", "0", {}, CounterEvent.RESET, "0"),
        ("100", "40", {"reset_floor": Decimal("50")}, CounterEvent.RESET, "40"),
        ("100", "40", {"reset": True}, CounterEvent.RESET, "40"),
        ("80000", "79000", {}, CounterEvent.BACKWARDS, None),
        ("80000", "79000", {"rollover_modulus": Decimal("100000")}, CounterEvent.BACKWARDS, None),
    ],
)
def test_counter_cases(previous, current, kwargs, event, delta):
    out = counter_delta(prev(previous) if previous else None, Decimal(current), **kwargs)
    assert out.event is event
    assert out.delta == (Decimal(delta) if delta is not None else None)
    assert out.accepted is (event is not CounterEvent.BACKWARDS)
