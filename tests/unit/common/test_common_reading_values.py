"""The range of a reading's value, shared by the connector (edge) and ingest."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from epd_common.reading_values import MAX_ABS_VALUE, MIN_ABS_VALUE, out_of_range
from epd_connector.sources.values import EdgeError, decimal_text


@pytest.mark.parametrize(
    "text", ["0", "-0", "12.5", "1e15", "1e-12", "1.500000000000000000000000000000000000", "9" * 15]
)
def test_readings_a_meter_gives_are_inside(text):
    assert out_of_range(Decimal(text)) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [("1e16", "above"), ("1e-999999", "below"), ("1e-13", "below"), ("0." + "1" * 40, "significant digits")],
)
def test_values_no_meter_gives_are_outside(text, why):
    assert why in out_of_range(Decimal(text))


@pytest.mark.parametrize(("value", "why"), [("1e-999999", "out of range"), ("1" * 70, "longer than 64"), ("x", "not")])
def test_the_connector_refuses_them_at_the_edge(value, why):
    with pytest.raises(EdgeError, match=why):
        decimal_text(value)


def test_non_finite_values_still_pass_the_edge_for_ingest_to_reject_with_their_reason():
    assert decimal_text("NaN") == "NaN" and decimal_text(12.5) == "12.5"


def test_the_short_text_shortcut_agrees_with_counting_the_digits():
    """out_of_range skips counting the digits when str(value) is short enough to hold no more than 28."""
    texts = [
        *(("0." + "1" * n) for n in range(20, 34)),
        *(("1" * n + "e-20") for n in range(20, 34)),
        *(("-1." + "0" * n + "1") for n in range(20, 34)),
        "1.5" + "0" * 40,
        "123456789.123456789012345678",
        "1E+14",
        "-7.25E-11",
    ]
    for text in texts:
        value = Decimal(text)
        digits = len(bytes(value.as_tuple().digits).rstrip(b"\x00"))
        counted = digits > 28 and 1e-12 <= abs(value) <= 1e15
        assert ("significant digits" in (out_of_range(value) or "")) is counted, text


def test_the_bounds_shortcut_agrees_with_comparing_the_magnitude():
    """out_of_range compares |value| with the bounds only when its leading digit's exponent is at or
    beyond theirs; every other value is inside them."""
    rnd = random.Random(5)
    values = [
        Decimal(t)
        for t in (
            "1e15",
            "-1e15",
            "1.000000000000000000001e15",
            "999999999999999.9",
            "1e-12",
            "0.99999e-12",
            "-1e-12",
            "1.00e15",
            "10e14",
            "0.1e-11",
            "1E+16",
            "1e-999",
        )
    ]
    for _ in range(20_000):
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 30)))
        values.append(Decimal(f"{rnd.choice('+-')}{digits}e{rnd.randint(-40, 30)}"))
    for value in values:
        if value.is_zero():
            continue
        problem = out_of_range(value) or ""
        assert ("above" in problem) is (abs(value) > MAX_ABS_VALUE), value
        assert ("below" in problem) is (abs(value) < MIN_ABS_VALUE), value
