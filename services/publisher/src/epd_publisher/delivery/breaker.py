"""Per-endpoint circuit breaker: closed -> open after N consecutive failures -> half-open after a
cool-down -> closed on a successful probe (or open again on a failed one).

While the breaker is open the sender defers deliveries to that endpoint without spending a retry
attempt, so a long partner outage does not burn the 72 h retry budget of every queued message.
The clock is injected (monotonic seconds) so tests need no sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

Clock = Callable[[], float]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Breaker for one endpoint; ``allow()`` before an attempt, then ``record_success/failure()``."""

    failure_threshold: int = 5
    cool_down_seconds: float = 60.0
    half_open_probes: int = 1
    clock: Clock = time.monotonic
    _state: BreakerState = field(default=BreakerState.CLOSED, init=False)
    _failures: int = field(default=0, init=False)
    _opened_at: float = field(default=0.0, init=False)
    _probes_in_flight: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.failure_threshold, bool) or not isinstance(self.failure_threshold, int):
            raise ValueError("failure_threshold must be an integer")
        if self.failure_threshold < 1 or self.half_open_probes < 1:
            raise ValueError("failure_threshold and half_open_probes must be at least 1")
        if not self.cool_down_seconds > 0:
            raise ValueError("cool_down_seconds must be positive")

    @property
    def state(self) -> BreakerState:
        """Current state; an open breaker whose cool-down has passed reads as half-open."""
        if self._state is BreakerState.OPEN and self.clock() - self._opened_at >= self.cool_down_seconds:
            self._state = BreakerState.HALF_OPEN
            self._probes_in_flight = 0
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.cool_down_seconds - (self.clock() - self._opened_at))

    def allow(self) -> bool:
        """May an attempt go out now? In half-open, only ``half_open_probes`` at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self._probes_in_flight < self.half_open_probes:
            self._probes_in_flight += 1
            return True
        return False

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probes_in_flight = 0

    def record_failure(self) -> None:
        state = self.state
        self._failures += 1
        if state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._trip()

    def _trip(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self.clock()
        self._probes_in_flight = 0


@dataclass
class BreakerBoard:
    """One breaker per endpoint id, created on first use with shared settings."""

    failure_threshold: int = 5
    cool_down_seconds: float = 60.0
    clock: Clock = time.monotonic
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict, init=False)

    def for_endpoint(self, endpoint_id: str) -> CircuitBreaker:
        if not isinstance(endpoint_id, str) or not endpoint_id:
            raise ValueError("endpoint id must be a non-empty string")
        breaker = self._breakers.get(endpoint_id)
        if breaker is None:
            breaker = CircuitBreaker(self.failure_threshold, self.cool_down_seconds, clock=self.clock)
            self._breakers[endpoint_id] = breaker
        return breaker

    def states(self) -> dict[str, BreakerState]:
        return {k: b.state for k, b in sorted(self._breakers.items())}
