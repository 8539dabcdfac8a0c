"""Retry policy for partner deliveries: outcome classification, backoff with full jitter, Retry-After.

Schedule (nominal delay before each retry): 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h,
then 12 h repeated until the nominal attempt times reach 72 h: 15 attempts in all, the last one
nominally 75 h 42 min 35 s after the first. 72 h is the PACT v3.0.3 figure ("SHOULD abandon sending
the event after 72 hours", PublishedEvent in /work/shared/specs/pact/openapi-v3.0.3.yaml); the
Standard Webhooks spec recommends a schedule "spanning multiple days, with an exponential backoff"
and jitter.

Full jitter (each delay drawn uniformly from [min_delay, nominal]) spreads retries after an outage,
but could shrink the total span below 72 h; so the last retry is pinned to no earlier than the
horizon: ``delay = max(jittered, horizon - elapsed)``. The span is therefore always >= 72 h and never
longer than the nominal schedule (plus any Retry-After the partner asked for).

Outcome decision (the issue says "410 disables the endpoint; other failures retried", and the
Standard Webhooks spec treats every non-2xx other than 410 as a plain failure): 2xx delivered; 410
disables the endpoint; every other status, 3xx (redirects are never followed), timeouts and
connection errors are retried, and the message goes to the dead letters after the last attempt.
We deliberately do NOT dead-letter 4xx at once: a 401/403/404 is most often a partner-side
misconfiguration that gets fixed within the 72 h window, and a dead letter would need a manual
replay. 401/403 additionally ask the sender to refresh its OAuth2 token before the next attempt.
Retry-After is honoured on 429 and 503 (as a lower bound on the next delay, capped).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

HOUR = 3600.0
DEFAULT_DELAYS: tuple[float, ...] = (5, 30, 120, 600, 1800, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR)
DEFAULT_CAP = 12 * HOUR
DEFAULT_HORIZON = 72 * HOUR
#: A hostile or broken partner must not park a message forever with a huge Retry-After.
MAX_RETRY_AFTER = 24 * HOUR
_RETRY_AFTER_STATUSES = frozenset({429, 503})


class Action(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DISABLE_ENDPOINT = "disable_endpoint"
    DEAD_LETTER = "dead_letter"


class TransportError(StrEnum):
    """Failures without an HTTP status."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    TLS = "tls"
    PROTOCOL = "protocol"
    REFUSED_BY_GUARD = "refused_by_guard"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one HTTP attempt produced: a status (with its Retry-After header) or a transport error."""

    status: int | None = None
    error: TransportError | None = None
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    action: Action
    reason: str
    refresh_credentials: bool = False
    honour_retry_after: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """What to do after an attempt: the action, the delay before the next attempt, and why."""

    action: Action
    reason: str
    delay_seconds: float = 0.0
    refresh_credentials: bool = False


def classify(result: AttemptResult) -> Classification:
    """Map one attempt's result to delivered / retry / disable (dead letters are decided by the policy)."""
    if result.error is not None:
        if result.error is TransportError.REFUSED_BY_GUARD:
            # The endpoint now resolves to a forbidden address: stop, an operator must look at it.
            return Classification(Action.DISABLE_ENDPOINT, "endpoint refused by the SSRF guard")
        return Classification(Action.RETRY, f"transport error: {result.error.value}")
    status = result.status
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return Classification(Action.RETRY, f"invalid HTTP status {status!r}")
    if 200 <= status <= 299:
        return Classification(Action.DELIVERED, f"HTTP {status}")
    if status == 410:
        return Classification(Action.DISABLE_ENDPOINT, "HTTP 410 Gone: partner asked to stop")
    if 300 <= status <= 399:
        return Classification(Action.RETRY, f"HTTP {status}: redirects are not followed")
    if status in (401, 403):
        return Classification(Action.RETRY, f"HTTP {status}: refresh credentials and retry", refresh_credentials=True)
    return Classification(Action.RETRY, f"HTTP {status}", honour_retry_after=status in _RETRY_AFTER_STATUSES)


def parse_retry_after(value: object, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date, RFC 9110 10.2.3).

    Returns None for a missing or malformed value, 0 for a date in the past, and at most
    ``MAX_RETRY_AFTER``.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if text.isascii() and text.isdigit():
        return min(float(int(text)), MAX_RETRY_AFTER)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # asctime form and "-0000" carry no zone; HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff schedule; ``delays`` then ``cap`` repeated until the nominal times reach ``horizon``."""

    delays: Sequence[float] = DEFAULT_DELAYS
    cap: float = DEFAULT_CAP
    horizon: float = DEFAULT_HORIZON
    min_delay: float = 1.0

    def __post_init__(self) -> None:
        values = (*self.delays, self.cap, self.horizon, self.min_delay)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise ValueError("retry settings must be finite numbers")
        if not self.delays or any(d <= 0 for d in self.delays) or self.cap <= 0:
            raise ValueError("retry delays and cap must be positive")
        if self.horizon <= 0 or not 0 <= self.min_delay <= min(self.delays):
            raise ValueError("horizon must be positive and min_delay within [0, first delay]")
        self.nominal_delays()  # fails early when the horizon is out of reach

    def nominal_delays(self) -> list[float]:
        """Delay before retry 1, 2, ...; their sum is the first value >= horizon."""
        out: list[float] = []
        total = 0.0
        while total < self.horizon:
            d = self.delays[len(out)] if len(out) < len(self.delays) else self.cap
            out.append(min(d, self.cap))
            total += out[-1]
            if len(out) > 1000:
                raise ValueError("schedule needs more than 1000 retries to reach the horizon")
        return out

    @property
    def max_attempts(self) -> int:
        """The first attempt plus every retry."""
        return len(self.nominal_delays()) + 1

    def backoff(self, attempt: int, elapsed: float, rng: random.Random) -> float:
        """Jittered delay after attempt number ``attempt`` (1-based); the last retry lands >= horizon."""
        nominal = self.nominal_delays()
        if not 1 <= attempt < len(nominal) + 1:
            raise ValueError(f"attempt {attempt} has no retry after it (max {len(nominal) + 1})")
        base = nominal[attempt - 1]
        delay = self.min_delay + rng.random() * (base - self.min_delay)
        if attempt == len(nominal):
            delay = max(delay, self.horizon - elapsed)
        return delay

    def next_step(
        self,
        attempt: int,
        result: AttemptResult,
        *,
        elapsed: float,
        now: datetime,
        rng: random.Random,
    ) -> Step:
        """Decide after attempt ``attempt`` (1-based), ``elapsed`` seconds after the first attempt."""
        if attempt < 1 or elapsed < 0:
            raise ValueError("attempt starts at 1 and elapsed cannot be negative")
        c = classify(result)
        if c.action is not Action.RETRY:
            return Step(c.action, c.reason)
        if attempt >= self.max_attempts:
            return Step(Action.DEAD_LETTER, f"{c.reason}; gave up after {attempt} attempts over {elapsed / HOUR:.1f} h")
        delay = self.backoff(attempt, elapsed, rng)
        reason = c.reason
        if c.honour_retry_after:
            asked = parse_retry_after(result.retry_after, now)
            if asked is not None and asked > delay:
                delay = asked
                reason = f"{reason}; Retry-After {asked:.0f} s honoured"
        return Step(Action.RETRY, reason, delay_seconds=delay, refresh_credentials=c.refresh_credentials)
