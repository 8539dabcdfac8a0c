"""Circuit breaker transitions with an injected clock."""

from __future__ import annotations

import pytest

from epd_publisher.delivery.breaker import BreakerBoard, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, cool: float = 30.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(failure_threshold=threshold, cool_down_seconds=cool, clock=clock), clock


def test_opens_after_exactly_threshold_consecutive_failures() -> None:
    b, _ = make(3)
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED and b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN and not b.allow()


def test_a_success_resets_the_failure_count() -> None:
    b, _ = make(3)
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED and b.consecutive_failures == 2


def test_half_open_after_cool_down_admits_one_probe() -> None:
    b, clock = make(1, 30)
    b.record_failure()
    clock.now += 29.9
    assert b.state is BreakerState.OPEN and b.retry_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow() and not b.allow()  # one probe at a time


def test_successful_probe_closes() -> None:
    b, clock = make(2, 10)
    b.record_failure()
    b.record_failure()
    clock.now += 10
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.allow() and b.retry_in() == 0


def test_failed_probe_reopens_with_a_fresh_cool_down() -> None:
    b, clock = make(5, 10)
    for _ in range(5):
        b.record_failure()
    clock.now += 10
    assert b.allow()
    b.record_failure()  # a single failure in half-open is enough
    assert b.state is BreakerState.OPEN
    clock.now += 9
    assert b.state is BreakerState.OPEN
    clock.now += 1
    assert b.state is BreakerState.HALF_OPEN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"failure_threshold": True},
        {"failure_threshold": 2.5},
        {"cool_down_seconds": 0},
        {"cool_down_seconds": float("nan")},
        {"half_open_probes": 0},
    ],
)
def test_invalid_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)


def test_board_keeps_one_breaker_per_endpoint() -> None:
    clock = Clock()
    board = BreakerBoard(failure_threshold=1, cool_down_seconds=5, clock=clock)
    board.for_endpoint("a").record_failure()
    assert board.for_endpoint("a") is board.for_endpoint("a")
    assert board.states() == {"a": BreakerState.OPEN}
    assert board.for_endpoint("b").allow()
    with pytest.raises(ValueError):
        board.for_endpoint("")
