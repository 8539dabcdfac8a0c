"""Cascade: the drifting product plus downstream products that move past their own threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from epd_footprint.domain.cascade import Cause, cascade
from epd_footprint.domain.drift import DriftError, DriftPolicy, DriftState, PolicyBook, evaluate

# roasting -> oxide -> metal -> magnet ; oxide -> other-alloy ; swarf recycling loop magnet -> metal
DOWNSTREAM = {
    "roasted": ["oxide"],
    "oxide": ["metal", "alloy"],
    "metal": ["magnet"],
    "magnet": ["metal"],
}
PUBLISHED = {p: Decimal("100") for p in ("roasted", "oxide", "metal", "magnet", "alloy")}


def drifted_origin(value: str = "120"):
    state = DriftState()
    for _ in range(3):
        state, decision = evaluate(DriftPolicy(), state, Decimal(value), Decimal("100"))
    assert decision.drifted
    return decision


DEFAULT_BOOK = PolicyBook()


def run(live, book: PolicyBook = DEFAULT_BOOK, origins=None):
    return cascade(
        origins if origins is not None else {"roasted": drifted_origin()},
        live=live,
        published=PUBLISHED,
        downstream=DOWNSTREAM,
        policy_for=book.policy_for,
    )


def test_origin_and_downstream_products_past_threshold() -> None:
    live = {"roasted": "120", "oxide": "115", "metal": "111", "magnet": "108", "alloy": "103"}
    result = run(live)
    assert [t.product_id for t in result.targets] == ["roasted", "oxide", "metal"]
    assert result.targets[0].cause is Cause.DRIFT
    assert all(t.cause is Cause.CASCADE and t.origin == "roasted" for t in result.targets[1:])
    assert {s.product_id for s in result.skipped} == {"alloy", "magnet"}
    assert "cascade from roasted" in result.targets[1].reason


def test_walks_through_a_product_below_threshold() -> None:
    # oxide moves only 9 %, but metal (with less dilution elsewhere) moves 12 %
    live = {"roasted": "120", "oxide": "109", "metal": "112", "magnet": "100", "alloy": "100"}
    assert run(live).product_ids == {"roasted", "metal"}


def test_per_product_policy_applies_downstream() -> None:
    live = {"roasted": "120", "oxide": "107", "metal": "100", "magnet": "100", "alloy": "100"}
    strict = PolicyBook(by_product={"oxide": DriftPolicy(threshold=Decimal("0.05"))})
    assert run(live, strict).product_ids == {"roasted", "oxide"}
    assert run(live).product_ids == {"roasted"}


def test_five_percent_creates_nothing() -> None:
    state = DriftState()
    decisions = []
    for _ in range(10):
        state, d = evaluate(DriftPolicy(), state, Decimal("105"), Decimal("100"))
        decisions.append(d)
    result = run({p: "105" for p in PUBLISHED}, origins={"roasted": decisions[-1]})
    assert result.targets == () and "did not drift" in result.skipped[0].reason


def test_improvements_cascade_too() -> None:
    live = {"roasted": "80", "oxide": "85", "metal": "95", "magnet": "100", "alloy": "100"}
    result = run(live, origins={"roasted": drifted_origin("80")})
    assert result.product_ids == {"roasted", "oxide"}


def test_cycles_terminate_and_each_product_appears_once() -> None:
    live = {p: "150" for p in PUBLISHED}
    result = run(live)
    ids = [t.product_id for t in result.targets]
    assert sorted(ids) == sorted(set(ids)) == sorted(PUBLISHED)


def test_missing_or_unusable_values_are_skipped_with_a_reason() -> None:
    live = {"roasted": "120", "oxide": "NaN", "metal": "130"}
    published = {**PUBLISHED, "magnet": "0"}
    result = cascade(
        {"roasted": drifted_origin()},
        live={**live, "magnet": "5"},
        published=published,
        downstream=DOWNSTREAM,
        policy_for=PolicyBook().policy_for,
    )
    reasons = {s.product_id: s.reason for s in result.skipped}
    assert "finite" in reasons["oxide"]
    assert "zero" in reasons["magnet"]
    assert "no live value" in reasons["alloy"]
    assert result.product_ids == {"roasted", "metal"}


def test_unpublished_downstream_product_is_skipped() -> None:
    result = cascade(
        {"roasted": drifted_origin()},
        live={"roasted": "120", "new": "200"},
        published={"roasted": "100"},
        downstream={"roasted": ["new"]},
        policy_for=PolicyBook().policy_for,
    )
    assert result.product_ids == {"roasted"} and "no published value" in result.skipped[0].reason


def test_bad_policy_lookup_propagates_a_clear_error() -> None:
    def broken(pid: str) -> DriftPolicy:
        raise DriftError(f"no policy for {pid}")

    with pytest.raises(DriftError, match="no policy for oxide"):
        cascade(
            {"roasted": drifted_origin()},
            live={"oxide": "150"},
            published=PUBLISHED,
            downstream=DOWNSTREAM,
            policy_for=broken,
        )
