"""pint normalisation to canonical units per activity kind."""

import random
from decimal import Decimal

import pytest

from epd.v1 import telemetry_pb2
from epd_ingest import units

AK = telemetry_pb2.ActivityKind


@pytest.mark.parametrize(
    ("value", "unit", "kind", "expected", "canonical"),
    [
        ("1.5", "MWh", AK.ACTIVITY_KIND_ELECTRICITY, "1500", "kWh"),
        ("250", "Wh", AK.ACTIVITY_KIND_ELECTRICITY, "0.25", "kWh"),
        ("2", "t", AK.ACTIVITY_KIND_REAGENT, "2000", "kg"),
        ("750", "g", AK.ACTIVITY_KIND_DIRECT_EMISSION, "0.75", "kg"),
        ("2500", "MJ", AK.ACTIVITY_KIND_FUEL, "2.5", "GJ"),
        ("0.004", "TJ", AK.ACTIVITY_KIND_STEAM, "4", "GJ"),
        ("3.2", "t", AK.ACTIVITY_KIND_FUEL, "3200", "kg"),
        ("120", "Nm3", AK.ACTIVITY_KIND_FUEL, "120", "Nm3"),
        ("1.2", "m3", AK.ACTIVITY_KIND_FUEL, "1200", "L"),
        ("12", "t", AK.ACTIVITY_KIND_STEAM, "12000", "kg"),
        ("5", "kg", AK.ACTIVITY_KIND_PRODUCT_OUTPUT, "5", "kg"),
    ],
)
def test_conversions_are_exact(value, unit, kind, expected, canonical):
    n = units.normalise(Decimal(value), unit, kind)
    assert n.unit == canonical
    assert n.quantity == Decimal(expected)
    assert isinstance(n.quantity, Decimal)
    assert units.format_decimal(n.quantity) == expected


def test_nm3_is_not_a_geometric_volume():
    with pytest.raises(units.IncompatibleUnitError):
        units.normalise(Decimal(1), "Nm3", AK.ACTIVITY_KIND_REAGENT)


@pytest.mark.parametrize("unit", ["bananas", "", "k" * 40, "kWh; DROP TABLE", "2 kg", "percent", "\x00kg"])
def test_unknown_units(unit):
    with pytest.raises(units.UnknownUnitError):
        units.canonical_unit(AK.ACTIVITY_KIND_ELECTRICITY, unit)


@pytest.mark.parametrize(
    ("unit", "kind"),
    [
        ("kg", AK.ACTIVITY_KIND_ELECTRICITY),
        ("kWh", AK.ACTIVITY_KIND_PRODUCT_OUTPUT),
        ("degC", AK.ACTIVITY_KIND_STEAM),
        ("kWh**2", AK.ACTIVITY_KIND_ELECTRICITY),
        ("kg", AK.ACTIVITY_KIND_UNSPECIFIED),
    ],
)
def test_incompatible_units(unit, kind):
    with pytest.raises(units.IncompatibleUnitError):
        units.canonical_unit(kind, unit)


def test_format_decimal_has_no_exponent():
    assert units.format_decimal(Decimal("1.5E+3")) == "1500"
    assert units.format_decimal(Decimal("0.00100")) == "0.001"
    assert units.format_decimal(Decimal("0E-7")) == "0"


def test_format_decimal_writes_what_format_f_of_the_normalised_value_writes():
    """format_decimal takes str() where it has no exponent, int() where it has a positive one."""
    rnd = random.Random(3)
    factors = [Decimal(1), Decimal(1000), Decimal("0.001"), Decimal("3.6"), Decimal("0.45359237")]
    for _ in range(20_000):
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 30)))
        value = Decimal(f"{rnd.choice(['', '-'])}{digits}e{rnd.randint(-30, 20)}") * rnd.choice(factors)
        expected = "0" if value == 0 else format(value.normalize(), "f")
        assert units.format_decimal(value) == expected, value
