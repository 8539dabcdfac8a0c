"""Retry policy: outcome classification, schedule bounds, full jitter, Retry-After."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from epd_publisher.delivery.retry import (
    DEFAULT_HORIZON,
    MAX_RETRY_AFTER,
    Action,
    AttemptResult,
    RetryPolicy,
    TransportError,
    classify,
    parse_retry_after,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class FixedRng(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def run_to_end(policy: RetryPolicy, rng: random.Random, result: AttemptResult) -> tuple[list[float], str]:
    """Simulate a permanently failing endpoint; returns attempt times and the final action."""
    times = [0.0]
    attempt = 1
    while True:
        step = policy.next_step(attempt, result, elapsed=times[-1], now=NOW, rng=rng)
        if step.action is not Action.RETRY:
            return times, step.action
        times.append(times[-1] + step.delay_seconds)
        attempt += 1


@pytest.mark.parametrize(
    ("result", "action"),
    [
        (AttemptResult(status=200), Action.DELIVERED),
        (AttemptResult(status=204), Action.DELIVERED),
        (AttemptResult(status=299), Action.DELIVERED),
        (AttemptResult(status=410), Action.DISABLE_ENDPOINT),
        (AttemptResult(status=301), Action.RETRY),
        (AttemptResult(status=400), Action.RETRY),
        (AttemptResult(status=404), Action.RETRY),
        (AttemptResult(status=408), Action.RETRY),
        (AttemptResult(status=429), Action.RETRY),
        (AttemptResult(status=500), Action.RETRY),
        (AttemptResult(status=503), Action.RETRY),
        (AttemptResult(status=99), Action.RETRY),
        (AttemptResult(status=600), Action.RETRY),
        (AttemptResult(status=True), Action.RETRY),
        (AttemptResult(), Action.RETRY),
        (AttemptResult(error=TransportError.TIMEOUT), Action.RETRY),
        (AttemptResult(error=TransportError.CONNECT), Action.RETRY),
        (AttemptResult(error=TransportError.REFUSED_BY_GUARD), Action.DISABLE_ENDPOINT),
    ],
)
def test_classification(result: AttemptResult, action: Action) -> None:
    assert classify(result).action is action


def test_401_asks_for_a_token_refresh() -> None:
    step = RetryPolicy().next_step(1, AttemptResult(status=401), elapsed=0, now=NOW, rng=FixedRng(0.5))
    assert step.action is Action.RETRY and step.refresh_credentials


def test_nominal_schedule_reaches_72_hours_with_exponential_start() -> None:
    policy = RetryPolicy()
    delays = policy.nominal_delays()
    assert sum(delays) >= DEFAULT_HORIZON
    assert sum(delays[:-1]) < DEFAULT_HORIZON  # no retry beyond what the horizon needs
    assert delays[:3] == [5, 30, 120]
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert policy.max_attempts == len(delays) + 1


@pytest.mark.parametrize("jitter", [0.0, 1e-9, 0.25, 0.5, 0.999999])
def test_total_span_is_at_least_72h_and_at_most_nominal_whatever_the_jitter(jitter: float) -> None:
    policy = RetryPolicy()
    times, final = run_to_end(policy, FixedRng(jitter), AttemptResult(status=500))
    assert final is Action.DEAD_LETTER
    assert len(times) == policy.max_attempts
    assert DEFAULT_HORIZON <= times[-1] <= sum(policy.nominal_delays()) + 1e-6


@pytest.mark.parametrize("seed", range(20))
def test_full_jitter_stays_within_bounds(seed: int) -> None:
    policy = RetryPolicy()
    rng = random.Random(seed)
    nominal = policy.nominal_delays()
    for attempt in range(1, len(nominal)):  # every retry but the pinned last one
        delay = policy.backoff(attempt, 0.0, rng)
        assert policy.min_delay <= delay <= nominal[attempt - 1]


def test_injected_rng_makes_the_schedule_deterministic() -> None:
    policy = RetryPolicy()
    a, _ = run_to_end(policy, random.Random(42), AttemptResult(error=TransportError.TIMEOUT))
    b, _ = run_to_end(policy, random.Random(42), AttemptResult(error=TransportError.TIMEOUT))
    c, _ = run_to_end(policy, random.Random(43), AttemptResult(error=TransportError.TIMEOUT))
    assert a == b and a != c


def test_terminal_outcomes_stop_at_once() -> None:
    policy = RetryPolicy()
    for status, action in ((200, Action.DELIVERED), (410, Action.DISABLE_ENDPOINT)):
        step = policy.next_step(3, AttemptResult(status=status), elapsed=60, now=NOW, rng=FixedRng(0.5))
        assert step.action is action and step.delay_seconds == 0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_on_429_and_503(status: int) -> None:
    step = RetryPolicy().next_step(
        1, AttemptResult(status=status, retry_after="120"), elapsed=0, now=NOW, rng=FixedRng(0.5)
    )
    assert step.delay_seconds == 120 and "Retry-After" in step.reason


def test_retry_after_ignored_on_500_and_never_shortens_the_backoff() -> None:
    policy = RetryPolicy()
    on_500 = policy.next_step(1, AttemptResult(status=500, retry_after="3000"), elapsed=0, now=NOW, rng=FixedRng(0.5))
    assert on_500.delay_seconds < 3000
    short = policy.next_step(5, AttemptResult(status=429, retry_after="1"), elapsed=600, now=NOW, rng=FixedRng(0.5))
    assert short.delay_seconds == pytest.approx(policy.backoff(5, 600, FixedRng(0.5)))


def test_retry_after_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, NOW) == 90
    past = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past, NOW) == 0
    assert parse_retry_after("Sun Nov  6 08:49:37 1994", NOW) == 0  # asctime form, RFC 9110 5.6.7
    far = format_datetime(NOW + timedelta(days=400), usegmt=True)
    assert parse_retry_after(far, NOW) == MAX_RETRY_AFTER


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("  30 ", 30), ("86400", 86400), ("9" * 60, MAX_RETRY_AFTER)],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "-5",
        "1.5",
        "+30",
        "soon",
        "9" * 5000,
        "٣٠",
        "Fri, 32 Foo 2025 99:99:99 GMT",
        30,
        b"30",
        "\x00",
        "1e3",
    ],
)
def test_retry_after_garbage_is_ignored(value: object) -> None:
    assert parse_retry_after(value, NOW) is None


def test_bad_policies_and_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(delays=())
    with pytest.raises(ValueError):
        RetryPolicy(delays=(5, -1))
    with pytest.raises(ValueError):
        RetryPolicy(horizon=0)
    with pytest.raises(ValueError):
        RetryPolicy(cap=float("nan"))
    with pytest.raises(ValueError):
        RetryPolicy(horizon=float("inf"))
    with pytest.raises(ValueError):
        RetryPolicy(delays=(1,), cap=1, horizon=10**9)
    with pytest.raises(ValueError):
        RetryPolicy().next_step(0, AttemptResult(status=500), elapsed=0, now=NOW, rng=FixedRng(0))
    with pytest.raises(ValueError):
        RetryPolicy().backoff(99, 0, FixedRng(0))
