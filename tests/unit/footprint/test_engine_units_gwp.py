"""The project's unit vocabulary (ambiguous spellings refused) and GWP factors by gas and origin."""

import copy
from decimal import Decimal

import pytest

from epd_footprint.engine import GWP_SETS, ProductSystemError, Reason, compute, parse_system
from epd_footprint.engine.units import conversion_factor

BASE = {
    "format": "epd-product-system/1",
    "gwp": "AR6",
    "products": [{"id": "ore", "unit": "kg"}],
    "background": [{"id": "truck", "unit": "tkm", "category": "transport", "emissions": {"CO2": 0.1}, "default": True}],
    "processes": [
        {
            "id": "mine",
            "outputs": [{"product": "ore", "amount": 1, "unit": "kg"}],
            "inputs": [{"activity": "truck", "amount": 1, "unit": "tkm"}],
        }
    ],
}


def with_emission(gas, origin, gwp="AR6", amount=1):
    doc = copy.deepcopy(BASE)
    doc["gwp"] = gwp
    doc["processes"][0]["inputs"] = []
    doc["processes"][0]["emissions"] = [{"gas": gas, "origin": origin, "amount": amount, "unit": "kg"}]
    return doc


def a1_a3(doc, indicator="GWP-total"):
    return compute(parse_system(doc), detail=False)[0].gwp["A1-A3"][indicator]


@pytest.mark.parametrize(
    ("unit", "kg"),
    [("t", "1000"), ("tonne", "1000"), ("kg", "1"), ("g", "0.001"), ("mg", "0.000001")],
)
def test_mass_spellings_mean_one_thing(unit, kg):
    assert Decimal(repr(conversion_factor(unit, "kg"))) == Decimal(kg)


def test_three_thousandths_of_a_tonne_are_three_kilograms():
    doc = copy.deepcopy(BASE)
    doc["background"].append(
        {"id": "acid", "unit": "kg", "category": "ancillary", "emissions": {"CO2e": 1}, "default": True}
    )
    doc["processes"][0]["inputs"].append({"activity": "acid", "amount": "0.003", "unit": "t"})
    assert compute(parse_system(doc))[0].background["acid"] == (Decimal("3"), "kg")


@pytest.mark.parametrize(
    ("spelling", "hint"),
    [
        ("ton", "short ton"),
        ("tons", "short tons"),
        ("unit", "piece"),
        ("units", "piece"),
        ("kt", "knot"),
        ("Mt", "megatonne"),
        ("MT", "metric ton"),
        ("gal", "gallon"),
        ("cal", "calorie"),
        ("T", "tesla"),
    ],
)
def test_ambiguous_spellings_are_refused_with_what_to_write(spelling, hint):
    doc = copy.deepcopy(BASE)
    doc["processes"][0]["outputs"][0]["unit"] = spelling
    with pytest.raises(ProductSystemError) as err:
        parse_system(doc)
    assert err.value.reason is Reason.AMBIGUOUS_UNIT and hint in err.value.message
    assert err.value.where == "$.processes[0].outputs[0].unit"


@pytest.mark.parametrize("unit", ["furlong", "KG", "kwh", "kg*km", "m**2", "knot", "degC"])
def test_spellings_outside_the_vocabulary_are_unknown(unit):
    doc = copy.deepcopy(BASE)
    doc["products"][0]["unit"] = unit
    with pytest.raises(ProductSystemError) as err:
        parse_system(doc)
    assert err.value.reason is Reason.UNKNOWN_UNIT


def test_unknown_unit_suggests_the_vocabulary_spelling():
    doc = copy.deepcopy(BASE)
    doc["products"][0]["unit"] = "KWH"
    with pytest.raises(ProductSystemError, match="did you mean kWh"):
        parse_system(doc)


@pytest.mark.parametrize(
    ("product_unit", "output", "per_unit"),
    [
        ("m2", {"amount": 1, "unit": "ha"}, "0.00001"),  # 0.1 kg CO2 per run over 10,000 m2
        ("m3", {"amount": 1000, "unit": "l"}, "0.1"),
        ("piece", {"amount": 4, "unit": "items"}, "0.025"),
        ("pkm", {"amount": 2, "unit": "pkm"}, "0.05"),
    ],
)
def test_common_lca_units_are_accepted(product_unit, output, per_unit):
    doc = copy.deepcopy(BASE)
    doc["products"][0]["unit"] = product_unit
    doc["processes"][0]["outputs"][0] = {"product": "ore", **output}
    assert a1_a3(doc) == Decimal(per_unit)


def test_normal_cubic_metres_are_not_volumes():
    with pytest.raises(ProductSystemError) as err:
        conversion_factor("Nm3", "m3")
    assert err.value.reason is Reason.UNIT_MISMATCH


def test_tonne_kilometres_convert():
    doc = copy.deepcopy(BASE)
    doc["processes"][0]["inputs"][0] = {"activity": "truck", "amount": 2000, "unit": "tkm"}
    doc["background"][0]["unit"] = "tkm"
    assert a1_a3(doc) == Decimal("200")


# -- GWP by gas and origin ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "indicator", "expected"),
    [("fossil", "GWP-fossil", "29.8"), ("biogenic", "GWP-biogenic", "27"), ("luluc", "GWP-luluc", "27")],
)
def test_ar6_methane_depends_on_its_origin(origin, indicator, expected):
    doc = with_emission("CH4", origin)
    assert a1_a3(doc, indicator) == a1_a3(doc) == Decimal(expected)


@pytest.mark.parametrize(
    ("gwp", "gas", "origin", "expected"),
    [
        ("AR4", "CH4", "fossil", "25"),
        ("AR4", "CH4", "biogenic", "25"),
        ("AR4", "SF6", "fossil", "22800"),
        ("AR5", "CH4", "biogenic", "28"),
        ("AR5", "CH4", "fossil", "30"),
        ("AR5", "N2O", "fossil", "265"),
        ("AR5", "CF4", "fossil", "6630"),
        ("AR6", "N2O", "fossil", "273"),
        ("AR6", "CF4", "fossil", "7380"),
        ("AR6", "C2F6", "fossil", "12400"),
        ("AR6", "SF6", "fossil", "25200"),
        ({"set": "AR4"}, "C2F6", "fossil", "12200"),
    ],
)
def test_built_in_sets(gwp, gas, origin, expected):
    assert a1_a3(with_emission(gas, origin, gwp)) == Decimal(expected)


def test_every_built_in_set_cites_its_source_and_marks_unchecked_values():
    for name, gwp_set in GWP_SETS.items():
        assert name in gwp_set.source and "IPCC" in gwp_set.source and gwp_set.basis == name
        assert set(gwp_set.unchecked) <= set(gwp_set.factors)
    assert GWP_SETS["AR5"].unchecked == ("CH4/fossil", "C2F6", "SF6")
    fp = compute(parse_system(with_emission("SF6", "fossil", "AR5")))[0]
    assert fp.unchecked_gwp == ["SF6"] and fp.as_dict()["unchecked_gwp"] == ["SF6"]
    assert compute(parse_system(with_emission("CH4", "biogenic", "AR5")))[0].unchecked_gwp == []


def test_custom_table_with_origin_keys():
    table = {"name": "site table", "source": "test", "basis": "AR6", "factors": {"CH4/fossil": 30, "CH4": 27}}
    assert a1_a3(with_emission("CH4", "fossil", table)) == Decimal("30")
    assert a1_a3(with_emission("CH4", "biogenic", table)) == Decimal("27")


def test_a_table_without_the_origin_refuses_the_emission():
    table = {"name": "fossil only", "source": "test", "factors": {"CH4/fossil": 29.8}}
    assert a1_a3(with_emission("CH4", "fossil", table)) == Decimal("29.8")
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(with_emission("CH4", "biogenic", table)))
    assert err.value.reason is Reason.MISSING_FACTOR and "CH4/biogenic" in err.value.message


@pytest.mark.parametrize(
    ("gwp", "reason"),
    [
        ("AR7", Reason.MISSING_FACTOR),
        ({"set": "AR3"}, Reason.MISSING_FACTOR),
        ({"name": "x", "source": "y", "factors": {"CH4/martian": 1}}, Reason.MALFORMED),
        ({"name": "x", "source": "y", "factors": {"CH4/fossil": -1}}, Reason.INVALID_NUMBER),
        ({"name": "x", "source": "y", "factors": {}, "typo": 1}, Reason.MALFORMED),
        (7, Reason.MALFORMED),
    ],
)
def test_bad_gwp_tables(gwp, reason):
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(with_emission("CH4", "fossil", gwp)))
    assert err.value.reason is reason
