"""Drift rule: threshold, N consecutive evaluations, hysteresis, both directions, policy lookup."""

from __future__ import annotations

from decimal import Decimal

import pytest

from epd_footprint.domain.drift import (
    Direction,
    DriftError,
    DriftPolicy,
    DriftState,
    PolicyBook,
    deviation,
    evaluate,
)

PUBLISHED = Decimal("100")
DEFAULT_POLICY = DriftPolicy()


def run(values, policy: DriftPolicy = DEFAULT_POLICY, published=PUBLISHED):
    state, decisions = DriftState(), []
    for v in values:
        state, d = evaluate(policy, state, Decimal(v), published)
        decisions.append(d)
    return state, decisions


def test_exactly_n_consecutive_evaluations_are_needed() -> None:
    _, ds = run(["120", "120", "120"])
    assert [d.drifted for d in ds] == [False, False, True]
    assert [d.consecutive for d in ds] == [1, 2, 3]
    assert ds[-1].direction is Direction.DETERIORATION and ds[-1].percent == Decimal("20.0")
    assert "drift: A1-A3 GWP-total +20.0%" in ds[-1].reason and "3 evaluations" in ds[-1].reason


def test_a_dip_back_within_threshold_resets_the_count() -> None:
    _, ds = run(["120", "120", "105", "120", "120", "120"])
    assert [d.drifted for d in ds] == [False, False, False, False, False, True]
    assert ds[2].consecutive == 0 and "within" in ds[2].reason


def test_a_flip_of_direction_restarts_the_count() -> None:
    _, ds = run(["120", "120", "80", "80", "80"])
    assert [d.drifted for d in ds] == [False, False, False, False, True]
    assert ds[-1].direction is Direction.IMPROVEMENT


@pytest.mark.parametrize("value", ["105", "95", "110", "90", "100", "109.999"])
def test_within_or_at_ten_percent_never_drifts(value: str) -> None:
    _, ds = run([value] * 50)
    assert not any(d.drifted for d in ds)


def test_just_over_ten_percent_drifts() -> None:
    _, ds = run(["110.001"] * 3)
    assert ds[-1].drifted


def test_improvement_drifts_too() -> None:
    _, ds = run(["85"] * 3)
    assert ds[-1].drifted and ds[-1].direction is Direction.IMPROVEMENT
    assert ds[-1].percent == Decimal("-15.0")


def test_drift_fires_once_per_excursion_and_rearms_after_returning() -> None:
    _, ds = run(["130"] * 6 + ["100"] + ["130"] * 3)
    assert [i for i, d in enumerate(ds) if d.drifted] == [2, 9]
    assert "already flagged" in ds[4].reason


def test_negative_published_value_uses_its_magnitude() -> None:
    _, ds = run(["-5", "-5", "-5"], published=Decimal("-10"))  # less negative = worse
    assert ds[-1].drifted and ds[-1].direction is Direction.DETERIORATION
    assert ds[-1].percent == Decimal("50.0")


def test_unwatched_direction_does_not_count() -> None:
    policy = DriftPolicy(watch_improvement=False)
    _, ds = run(["50"] * 5, policy)
    assert not any(d.drifted for d in ds) and "not watched" in ds[-1].reason


def test_custom_threshold_and_count() -> None:
    policy = DriftPolicy(threshold=Decimal("0.05"), consecutive=1)
    _, ds = run(["106"], policy)
    assert ds[0].drifted


def test_policy_lookup_product_over_pcr_over_default() -> None:
    by_product, by_pcr = DriftPolicy(consecutive=5), DriftPolicy(consecutive=2)
    book = PolicyBook(by_pcr={"pcr-magnets": by_pcr}, by_product={"p-1": by_product})
    assert book.policy_for("p-1", "pcr-magnets") is by_product
    assert book.policy_for("p-2", "pcr-magnets") is by_pcr
    assert book.policy_for("p-2", "pcr-other") is book.default
    assert book.policy_for("p-2") is book.default


def test_deviation_exposes_the_signed_fraction() -> None:
    d = deviation(DriftPolicy(), "112.5", "100")
    assert d.relative == Decimal("0.125") and d.beyond and d.percent == Decimal("12.5")
    equal = deviation(DriftPolicy(), "100", "100")
    assert equal.direction is None and not equal.beyond


@pytest.mark.parametrize(
    ("live", "published", "why"),
    [
        ("120", "0", "zero"),
        (120.0, "100", "float"),
        ("NaN", "100", "finite"),
        ("120", "Infinity", "finite"),
        ("abc", "100", "not a decimal"),
        (None, "100", "Decimal"),
        ("1" * 100, "100", "Decimal"),
        (True, "100", "bool"),
    ],
)
def test_bad_values_give_a_clear_error(live: object, published: object, why: str) -> None:
    with pytest.raises(DriftError, match=why):
        evaluate(DriftPolicy(), DriftState(), live, published)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": Decimal(0)},
        {"threshold": Decimal("-0.1")},
        {"threshold": Decimal("10")},
        {"threshold": 0.1},
        {"threshold": "NaN"},
        {"consecutive": 0},
        {"consecutive": 2.5},
        {"consecutive": True},
        {"consecutive": 10**9},
    ],
)
def test_bad_policies_are_refused(kwargs: dict) -> None:
    with pytest.raises(DriftError):
        DriftPolicy(**kwargs)


def test_threshold_accepts_decimal_strings() -> None:
    assert DriftPolicy(threshold="0.15").threshold == Decimal("0.15")
