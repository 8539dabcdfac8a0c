"""Cumulative counters -> deltas, with rollover and reset detection.

Rules, applied to a counter value `cur` following the last accepted value `prev` (both canonical):
1. no `prev`: baseline; the delta is 0 (what the register counted before we saw it is unknown).
2. `cur >= prev`: delta = cur - prev.
3. an explicit reset flag: delta = cur (the register restarted from 0).
4. a rollover modulus M is configured and prev + (M - prev + cur) looks like a wrap
   (prev >= M * ROLLOVER_ZONE and the wrapped delta <= M / 2): delta = M - prev + cur.
5. a drop to near zero (cur <= max(reset_floor, prev * reset_fraction)): reset; delta = cur.
6. otherwise: COUNTER_BACKWARDS; the state keeps `prev` so the next good value still works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# A wrap is only believed when the previous value was in the top tenth of the register.
ROLLOVER_ZONE = Decimal("0.9")
DEFAULT_RESET_FRACTION = Decimal("0.01")


class CounterEvent(StrEnum):
    BASELINE = "baseline"
    NORMAL = "normal"
    ROLLOVER = "rollover"
    RESET = "reset"
    BACKWARDS = "backwards"


@dataclass(frozen=True)
class CounterPoint:
    """Last accepted counter value of one meter (canonical unit) and when it was observed."""

    value: Decimal
    observed_at: datetime


@dataclass(frozen=True)
class CounterOutcome:
    event: CounterEvent
    delta: Decimal | None  # None only for BACKWARDS

    @property
    def accepted(self) -> bool:
        return self.event is not CounterEvent.BACKWARDS


def counter_delta(
    previous: CounterPoint | None,
    current: Decimal,
    *,
    reset: bool = False,
    rollover_modulus: Decimal | None = None,
    reset_floor: Decimal = Decimal(0),
    reset_fraction: Decimal = DEFAULT_RESET_FRACTION,
) -> CounterOutcome:
    """Delta for `current` given the previous point (see module docstring for the rules)."""
    if previous is None:
        return CounterOutcome(CounterEvent.BASELINE, Decimal(0))
    prev = previous.value
    if reset:
        return CounterOutcome(CounterEvent.RESET, current)
    if current >= prev:
        return CounterOutcome(CounterEvent.NORMAL, current - prev)
    if rollover_modulus is not None and rollover_modulus > 0 and current < rollover_modulus:
        wrapped = rollover_modulus - prev + current
        if prev >= rollover_modulus * ROLLOVER_ZONE and wrapped <= rollover_modulus / 2:
            return CounterOutcome(CounterEvent.ROLLOVER, wrapped)
    if current <= max(reset_floor, prev * reset_fraction):
        return CounterOutcome(CounterEvent.RESET, current)
    return CounterOutcome(CounterEvent.BACKWARDS, None)
