"""The drift rule: when does the live footprint no longer match the published EPD?

Default: the live A1-A3 GWP-total differs from the published value by MORE than 10 % (relative) for
N = 3 consecutive evaluations, in either direction. The 10 % comes from the programme rules that an
EPD must be updated when an indicator worsens by more than 10 % (International EPD System General
Programme Instructions; EPD-Norge; see /work/shared/DESIGN.md section 3); we apply it to
improvements too so that published figures stay true to the data. N and the threshold are
configurable per product or per PCR (product override > PCR > default).

Hysteresis: the counter grows only while every evaluation stays beyond the threshold in the same
direction; one evaluation back within the threshold (or a flip of direction) restarts it. A drift
fires once per excursion: further evaluations beyond the threshold report "already flagged" until
the value comes back within the threshold or a new version is published (the caller then starts
from a fresh ``DriftState``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from ..errors import FootprintError

DEFAULT_THRESHOLD = Decimal("0.10")  # International EPD System / EPD-Norge: "more than 10 %"
DEFAULT_CONSECUTIVE = 3
MAX_CONSECUTIVE = 10_000
INDICATOR_LABEL = "A1-A3 GWP-total"


class DriftError(FootprintError):
    """Inputs to the drift rule are unusable; the message says why."""


class Direction(StrEnum):
    DETERIORATION = "deterioration"  # live GWP above the published value
    IMPROVEMENT = "improvement"  # live GWP below the published value


def to_decimal(value: object, name: str) -> Decimal:
    """Decimal from Decimal, int or a decimal string; floats, NaN and infinities are refused."""
    if isinstance(value, bool | float):
        raise DriftError(f"{name} must be a Decimal or decimal string, not {type(value).__name__}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str) and len(value) <= 64:
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise DriftError(f"{name} {value!r} is not a decimal number") from None
    else:
        raise DriftError(f"{name} must be a Decimal or decimal string")
    if not d.is_finite():
        raise DriftError(f"{name} must be finite, got {d}")
    return d


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """Relative threshold (0.10 = 10 %), consecutive evaluations needed, directions watched."""

    threshold: Decimal = DEFAULT_THRESHOLD
    consecutive: int = DEFAULT_CONSECUTIVE
    watch_deterioration: bool = True
    watch_improvement: bool = True

    def __post_init__(self) -> None:
        t = to_decimal(self.threshold, "threshold")
        if not Decimal(0) < t < Decimal(10):
            raise DriftError(f"threshold must be in (0, 10) as a fraction, got {t}")
        object.__setattr__(self, "threshold", t)
        c = self.consecutive
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_CONSECUTIVE:
            raise DriftError(f"consecutive must be an integer in 1..{MAX_CONSECUTIVE}, got {c!r}")


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """Policy lookup: product override > PCR > default."""

    default: DriftPolicy = field(default_factory=DriftPolicy)
    by_pcr: Mapping[str, DriftPolicy] = field(default_factory=dict)
    by_product: Mapping[str, DriftPolicy] = field(default_factory=dict)

    def policy_for(self, product_id: str, pcr_id: str | None = None) -> DriftPolicy:
        if product_id in self.by_product:
            return self.by_product[product_id]
        if pcr_id and pcr_id in self.by_pcr:
            return self.by_pcr[pcr_id]
        return self.default


@dataclass(frozen=True, slots=True)
class Deviation:
    """One comparison of live against published, before hysteresis."""

    relative: Decimal  # signed fraction, (live - published) / |published|
    direction: Direction | None  # None when equal
    beyond: bool  # beyond the threshold in a watched direction

    @property
    def percent(self) -> Decimal:
        return (self.relative * 100).quantize(Decimal("0.1"))


def deviation(policy: DriftPolicy, live: object, published: object) -> Deviation:
    """Compare a live value with the published one under ``policy`` (one evaluation)."""
    lv, pv = to_decimal(live, "live value"), to_decimal(published, "published value")
    if pv == 0:
        raise DriftError("published value is zero: a relative drift is undefined")
    rel = (lv - pv) / abs(pv)
    direction = None if rel == 0 else (Direction.DETERIORATION if rel > 0 else Direction.IMPROVEMENT)
    watched = (direction is Direction.DETERIORATION and policy.watch_deterioration) or (
        direction is Direction.IMPROVEMENT and policy.watch_improvement
    )
    return Deviation(rel, direction, bool(watched and abs(rel) > policy.threshold))


@dataclass(frozen=True, slots=True)
class DriftState:
    """Per-product hysteresis state carried between evaluations."""

    consecutive: int = 0
    direction: Direction | None = None
    flagged: bool = False


@dataclass(frozen=True, slots=True)
class DriftDecision:
    drifted: bool
    direction: Direction | None
    percent: Decimal
    consecutive: int
    required: int
    reason: str


def evaluate(
    policy: DriftPolicy, state: DriftState, live: object, published: object
) -> tuple[DriftState, DriftDecision]:
    """One evaluation of the drift rule; returns the new state and the decision."""
    dev = deviation(policy, live, published)
    pct, need = dev.percent, policy.consecutive
    limit = f"{(policy.threshold * 100).normalize():f}%"
    if not dev.beyond:
        why = f"{INDICATOR_LABEL} {pct:+}% within ±{limit}"
        if dev.direction and abs(dev.relative) > policy.threshold:
            why = f"{INDICATOR_LABEL} {pct:+}% ({dev.direction.value} not watched for this product)"
        return DriftState(), DriftDecision(False, dev.direction, pct, 0, need, why)
    assert dev.direction is not None  # beyond the threshold in a watched direction: there is one
    same = state.direction is dev.direction
    count = min(state.consecutive + 1, MAX_CONSECUTIVE) if same else 1
    flagged = state.flagged and same
    if flagged:
        new = DriftState(count, dev.direction, True)
        why = f"{INDICATOR_LABEL} {pct:+}%: drift already flagged for this excursion"
        return new, DriftDecision(False, dev.direction, pct, count, need, why)
    if count >= need:
        why = (
            f"drift: {INDICATOR_LABEL} {pct:+}% ({dev.direction.value}) over {count} "
            f"evaluations (threshold {limit}, {need} needed)"
        )
        return DriftState(count, dev.direction, True), DriftDecision(True, dev.direction, pct, count, need, why)
    why = f"{INDICATOR_LABEL} {pct:+}% beyond {limit}: {count} of {need} consecutive evaluations"
    return DriftState(count, dev.direction, False), DriftDecision(False, dev.direction, pct, count, need, why)
