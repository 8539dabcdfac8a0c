"""EPD version status lifecycle and validity.

    draft -> provisional -> verified -> published -> deprecated
    (withdrawn and expired reachable as listed in ``ALLOWED``; withdrawn and expired are final)

A version is immutable: its figures never change, only its status moves forward along ``ALLOWED``.
Validity is 5 years from the start of validity (ISO 14025 / EN 15804 programme practice as applied by
the International EPD System General Programme Instructions; DESIGN.md section 3).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from epd.v1 import footprint_pb2

from ..errors import FootprintError

VALIDITY_YEARS = 5


class Status(StrEnum):
    DRAFT = "draft"
    PROVISIONAL = "provisional"
    VERIFIED = "verified"
    PUBLISHED = "published"
    DEPRECATED = "deprecated"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


ALLOWED: dict[Status, frozenset[Status]] = {
    # a draft is submitted (provisional) or discarded
    Status.DRAFT: frozenset({Status.PROVISIONAL, Status.WITHDRAWN}),
    # a verifier approves (verified) or rejects (withdrawn); a newer provisional supersedes it
    Status.PROVISIONAL: frozenset({Status.VERIFIED, Status.WITHDRAWN, Status.DEPRECATED}),
    Status.VERIFIED: frozenset({Status.PUBLISHED, Status.WITHDRAWN}),
    Status.PUBLISHED: frozenset({Status.DEPRECATED, Status.WITHDRAWN, Status.EXPIRED}),
    # a superseded version still runs out or can still be withdrawn
    Status.DEPRECATED: frozenset({Status.WITHDRAWN, Status.EXPIRED}),
    Status.WITHDRAWN: frozenset(),
    Status.EXPIRED: frozenset(),
}
#: Statuses whose versions can pass their validity date and must then expire.
EXPIRABLE = frozenset(s for s, nxt in ALLOWED.items() if Status.EXPIRED in nxt)


class LifecycleError(FootprintError):
    """A status value or a date is unusable."""


class ForbiddenTransition(LifecycleError):
    def __init__(self, current: Status, target: Status) -> None:
        allowed = ", ".join(sorted(ALLOWED[current])) or "none (final status)"
        super().__init__(f"cannot move an EPD version from {current} to {target}; allowed from {current}: {allowed}")
        self.current, self.target = current, target


def parse_status(value: object) -> Status:
    """Status from a name (``"published"``, ``"FOOTPRINT_STATUS_PUBLISHED"``) or a proto enum number."""
    if isinstance(value, Status):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            value = footprint_pb2.FootprintStatus.Name(value)
        except ValueError:
            raise LifecycleError(f"unknown status number {value}") from None
    if isinstance(value, str):
        name = value.strip().lower().removeprefix("footprint_status_")
        try:
            return Status(name)
        except ValueError:
            pass
    raise LifecycleError(f"unknown status {str(value)[:60]!r}")


def to_proto(status: Status) -> int:
    return footprint_pb2.FootprintStatus.Value(f"FOOTPRINT_STATUS_{status.name}")


def can_transition(current: object, target: object) -> bool:
    return parse_status(target) in ALLOWED[parse_status(current)]


def transition(current: object, target: object) -> Status:
    """Return ``target`` when the move is allowed, else raise ``ForbiddenTransition``."""
    cur, tgt = parse_status(current), parse_status(target)
    if tgt not in ALLOWED[cur]:
        raise ForbiddenTransition(cur, tgt)
    return tgt


def _aware(when: object, name: str) -> datetime:
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise LifecycleError(f"{name} must be a timezone-aware datetime")
    return when


def valid_until(valid_from: datetime, years: int = VALIDITY_YEARS) -> datetime:
    """End of validity; 29 February maps to 28 February of the end year."""
    start = _aware(valid_from, "valid_from")
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 50:
        raise LifecycleError("validity years must be an integer in 1..50")
    year = start.year + years
    if year > 9999:
        raise LifecycleError("validity ends after year 9999")
    try:
        return start.replace(year=year)
    except ValueError:  # 29 February into a non-leap year
        return start.replace(year=year, day=28)


def is_expired(until: datetime, now: datetime) -> bool:
    """True from the end-of-validity instant on."""
    return _aware(now, "now") >= _aware(until, "valid_until")


def expiry_due(status: object, until: datetime, now: datetime) -> bool:
    """Should this version be moved to ``expired`` now?"""
    return parse_status(status) in EXPIRABLE and is_expired(until, now)
