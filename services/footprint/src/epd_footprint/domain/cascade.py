"""Cascade: which products get a provisional version when a drift fires.

The products whose drift rule fired (``origins``) always get one. Every product downstream of an
origin (consumers, transitively; recycling loops are fine) gets one when its own live A1-A3
GWP-total has moved past its own threshold against its published value. The downstream check is a
single evaluation, not N consecutive ones: the sustained change was already established at the
origin, and the downstream values are computed from it by the value-chain engine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from epd_footprint.domain.drift import DriftDecision, DriftError, DriftPolicy, deviation

MAX_PRODUCTS = 1_000_000


class Cause(StrEnum):
    DRIFT = "drift"
    CASCADE = "cascade"


@dataclass(frozen=True, slots=True)
class ProvisionalTarget:
    product_id: str
    cause: Cause
    origin: str  # the drifting product this one follows from (itself for an origin)
    percent: Decimal  # signed
    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    product_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CascadeResult:
    targets: tuple[ProvisionalTarget, ...]  # origins first, then breadth-first downstream order
    skipped: tuple[Skipped, ...]

    @property
    def product_ids(self) -> frozenset[str]:
        return frozenset(t.product_id for t in self.targets)


def cascade(
    origins: Mapping[str, DriftDecision],
    *,
    live: Mapping[str, object],
    published: Mapping[str, object],
    downstream: Mapping[str, Iterable[str]],
    policy_for: Callable[[str], DriftPolicy],
) -> CascadeResult:
    """Decide the set of products that get a provisional version.

    ``downstream[p]``: products that consume ``p`` directly. ``policy_for(p)``: the product's drift
    policy (see ``PolicyBook.policy_for``).
    """
    targets: list[ProvisionalTarget] = []
    skipped: list[Skipped] = []
    for pid in sorted(origins):
        decision = origins[pid]
        if not decision.drifted:
            skipped.append(Skipped(pid, f"origin did not drift: {decision.reason}"))
            continue
        targets.append(ProvisionalTarget(pid, Cause.DRIFT, pid, decision.percent, decision.reason))

    seen = {t.product_id for t in targets}
    queue: deque[tuple[str, str]] = deque((t.product_id, t.product_id) for t in targets)
    while queue:
        current, origin = queue.popleft()
        for nxt in sorted(set(downstream.get(current, ()))):
            if nxt in seen:
                continue
            seen.add(nxt)
            if len(seen) > MAX_PRODUCTS:
                raise DriftError(f"cascade visits more than {MAX_PRODUCTS} products")
            queue.append((nxt, origin))  # keep walking: a product below threshold can feed one above
            target = _check(nxt, origin, live, published, policy_for)
            if isinstance(target, Skipped):
                skipped.append(target)
            else:
                targets.append(target)
    return CascadeResult(tuple(targets), tuple(skipped))


def _check(
    pid: str,
    origin: str,
    live: Mapping[str, object],
    published: Mapping[str, object],
    policy_for: Callable[[str], DriftPolicy],
) -> ProvisionalTarget | Skipped:
    if pid not in published:
        return Skipped(pid, "no published value to compare with")
    if pid not in live:
        return Skipped(pid, "no live value (not recomputed)")
    policy = policy_for(pid)
    try:
        dev = deviation(policy, live[pid], published[pid])
    except DriftError as exc:
        return Skipped(pid, f"cannot evaluate: {exc}")
    limit = f"{(policy.threshold * 100).normalize():f}%"
    if not dev.beyond:
        return Skipped(pid, f"A1-A3 GWP-total {dev.percent:+}% stays within ±{limit}")
    assert dev.direction is not None
    reason = f"cascade from {origin}: A1-A3 GWP-total {dev.percent:+}% ({dev.direction.value}) past threshold {limit}"
    return ProvisionalTarget(pid, Cause.CASCADE, origin, dev.percent, reason)
