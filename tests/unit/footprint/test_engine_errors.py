"""Every error class has a reason code; malformed, hostile and out-of-range files never crash."""

import copy
import json

import pytest

from epd_footprint.engine import ProductSystemError, Reason, compute, load_file, load_text, parse_system

BASE = {
    "format": "epd-product-system/1",
    "gwp": {"name": "AR6", "source": "IPCC AR6 WG1 Ch7 Table 7.SM.7", "factors": {"CF4": 7380}},
    "products": [{"id": "ore", "unit": "kg"}, {"id": "metal", "unit": "kg"}],
    "background": [{"id": "el", "unit": "kWh", "category": "energy", "emissions": {"CO2": 0.5}, "source": "test"}],
    "processes": [
        {
            "id": "mine",
            "outputs": [{"product": "ore", "amount": 1, "unit": "kg"}],
            "inputs": [{"activity": "el", "amount": 1, "unit": "kWh"}],
        },
        {
            "id": "smelt",
            "outputs": [{"product": "metal", "amount": 1, "unit": "kg"}],
            "inputs": [{"product": "ore", "amount": 2, "unit": "kg"}],
            "emissions": [{"gas": "CF4", "amount": 0.001, "unit": "kg"}],
        },
    ],
}


def mutate(path, value):
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


DELETE = object()

CASES = [
    (("processes", 1, "inputs", 0, "unit"), "kWh", Reason.UNIT_MISMATCH),
    (("processes", 1, "inputs", 0, "unit"), "furlongs-ish", Reason.UNKNOWN_UNIT),
    (("processes", 1, "inputs", 0, "unit"), "ton", Reason.AMBIGUOUS_UNIT),
    (("processes", 1, "inputs", 0, "unit"), "kt", Reason.AMBIGUOUS_UNIT),
    (("products", 0, "unit"), "unit", Reason.AMBIGUOUS_UNIT),
    (("processes", 1, "inputs", 0, "unit"), "Kg", Reason.UNKNOWN_UNIT),
    (("background", 0, "unit"), "kilowatt_hour", Reason.UNKNOWN_UNIT),
    (("gwp",), "AR9", Reason.MISSING_FACTOR),
    (("gwp", "factors"), {"CF4/fossil": 7380, "CF4/sideways": 1}, Reason.MALFORMED),
    (("background", 0, "emissions"), {"CH4/biogenic": 1}, Reason.MISSING_FACTOR),
    (("processes", 1, "emissions", 0, "unit"), "kWh", Reason.UNIT_MISMATCH),
    (("processes", 1, "inputs", 0, "product"), "gold", Reason.UNKNOWN_REFERENCE),
    (("processes", 0, "inputs", 0, "activity"), "steam", Reason.MISSING_FACTOR),
    (("processes", 1, "emissions", 0, "gas"), "SF6", Reason.MISSING_FACTOR),
    (("processes", 1, "inputs", 0, "amount"), float("nan"), Reason.INVALID_NUMBER),
    (("processes", 1, "inputs", 0, "amount"), "NaN", Reason.INVALID_NUMBER),
    (("processes", 1, "inputs", 0, "amount"), float("inf"), Reason.INVALID_NUMBER),
    (("processes", 1, "inputs", 0, "amount"), 1e300, Reason.INVALID_NUMBER),
    (("processes", 1, "inputs", 0, "amount"), "9" * 70, Reason.INVALID_NUMBER),
    (("processes", 1, "inputs", 0, "amount"), -2, Reason.INVALID_NUMBER),
    (("processes", 1, "outputs", 0, "amount"), 0, Reason.INVALID_NUMBER),
    (("processes", 1, "emissions", 0, "amount"), -1, Reason.INVALID_NUMBER),
    (("processes", 1, "inputs", 0, "amount"), True, Reason.MALFORMED),
    (("processes", 1, "inputs", 0, "amount"), "twelve", Reason.MALFORMED),
    (("processes", 1, "inputs", 0, "amount"), [1], Reason.MALFORMED),
    (("processes", 1, "outputs"), DELETE, Reason.MALFORMED),
    (("processes", 1, "id"), "../../etc/passwd\x00", Reason.MALFORMED),
    (("processes", 1, "typo"), 1, Reason.MALFORMED),
    (("products", 0, "unit"), DELETE, Reason.MALFORMED),
    (("gwp", "factors", "CF4"), 0, Reason.INVALID_NUMBER),
    (("gwp", "source"), DELETE, Reason.MALFORMED),
    (("format",), "epd-product-system/9", Reason.MALFORMED),
    (("background", 0, "source"), DELETE, Reason.MISSING_SOURCE),
    (("background", 0, "category"), "magic", Reason.MALFORMED),
    (("background", 0, "emissions"), {"CO2/martian": 1}, Reason.MALFORMED),
    (("background", 0, "emissions"), {"CH4": 1}, Reason.MISSING_FACTOR),
    (("products", 1), {"id": "ore", "unit": "kg"}, Reason.DUPLICATE_ID),
    (("products", 2), {"id": "orphan", "unit": "kg"}, Reason.NO_PRODUCER),
    (("processes", 0, "inputs"), [{"product": "ore", "amount": 1, "unit": "kg"}], Reason.NEGATIVE_NET_OUTPUT),
]


@pytest.mark.parametrize(("path", "value", "reason"), CASES, ids=[f"{c[2].value}-{i}" for i, c in enumerate(CASES)])
def test_each_error_has_its_reason(path, value, reason):
    data = mutate(path, value) if path[-1] != 2 else {**BASE, "products": BASE["products"] + [value]}
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(data))
    assert err.value.reason is reason
    assert err.value.as_dict()["reason"] == reason.value and err.value.message


def test_two_producers_without_supply_mix_are_ambiguous():
    data = copy.deepcopy(BASE)
    data["processes"].append({"id": "smelt-2", "outputs": [{"product": "metal", "amount": 1, "unit": "kg"}]})
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(data))
    assert err.value.reason is Reason.AMBIGUOUS_PRODUCER
    data["products"][1]["supply_mix"] = {"smelt": 0.5, "smelt-2": 0.6}
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(data))
    assert err.value.reason is Reason.ALLOCATION_SUM


def _co_products(allocation):
    data = copy.deepcopy(BASE)
    data["products"].append({"id": "slag", "unit": "kg"})
    data["processes"][1]["outputs"].append({"product": "slag", "amount": 3, "unit": "kg"})
    data["processes"][1]["allocation"] = allocation
    return data


@pytest.mark.parametrize(
    ("allocation", "reason"),
    [
        ({"method": "explicit", "factors": {"metal": 0.7, "slag": 0.2}}, Reason.ALLOCATION_SUM),
        ({"method": "explicit", "factors": {"metal": 1.0}}, Reason.MISSING_FACTOR),
        (
            {
                "method": "economic",
                "period": "2023",
                "price_basis": "x",
                "prices": {"metal": {"amount": 1, "currency": "CNY", "unit": "kg"}},
            },
            Reason.MISSING_FACTOR,
        ),
        ({"method": "economic", "prices": {}}, Reason.MISSING_FACTOR),
        (
            {
                "method": "economic",
                "period": "2023",
                "price_basis": "x",
                "prices": {
                    "metal": {"amount": 1, "currency": "CNY", "unit": "kg"},
                    "slag": {"amount": 1, "currency": "USD", "unit": "kg"},
                },
            },
            Reason.UNIT_MISMATCH,
        ),
        (
            {
                "method": "economic",
                "period": "2023",
                "price_basis": "x",
                "prices": {
                    "metal": {"amount": 1, "currency": "CNY", "unit": "kWh"},
                    "slag": {"amount": 1, "currency": "CNY", "unit": "kg"},
                },
            },
            Reason.UNIT_MISMATCH,
        ),
        ({"method": "none"}, Reason.MALFORMED),
    ],
)
def test_allocation_errors(allocation, reason):
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(_co_products(allocation)))
    assert err.value.reason is reason


def test_missing_allocation_for_co_products():
    data = _co_products(None)
    del data["processes"][1]["allocation"]
    with pytest.raises(ProductSystemError) as err:
        parse_system(data)
    assert err.value.reason is Reason.MALFORMED


def test_mass_allocation_needs_mass_units():
    data = _co_products({"method": "mass"})
    data["products"][2]["unit"] = "kWh"
    data["processes"][1]["outputs"][1]["unit"] = "kWh"
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(data))
    assert err.value.reason is Reason.UNIT_MISMATCH


@pytest.mark.parametrize(
    "text",
    [
        "format: [unclosed",
        "just a string",
        "- a\n- list",
        "{}",
        "format: epd-product-system/1\ngwp: 3",
        "a: &a [*a]",
        "x: !!python/object/apply:os.system ['true']",
        "\x00",
        "format: epd-product-system/1\n" + "[" * 5000,
    ],
)
def test_bad_yaml_is_malformed(text):
    with pytest.raises(ProductSystemError) as err:
        load_text(text)
    assert err.value.reason is Reason.MALFORMED


def test_huge_yaml_float_and_json_nan():
    data = json.dumps(mutate(("processes", 1, "inputs", 0, "amount"), 1)).replace('"amount": 1,', '"amount": NaN,', 1)
    with pytest.raises(ProductSystemError) as err:
        load_text(data, "json")
    assert err.value.reason is Reason.INVALID_NUMBER
    yaml_text = json.dumps(BASE).replace('"amount": 2', '"amount": 1.0e+999')
    with pytest.raises(ProductSystemError) as err:
        load_text(yaml_text)
    assert err.value.reason is Reason.INVALID_NUMBER


def test_unknown_product_requested_and_unreadable_file(tmp_path):
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(BASE), ["nothing"])
    assert err.value.reason is Reason.UNKNOWN_REFERENCE
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: \xe9")
    for path in (bad, tmp_path / "missing.yaml", tmp_path):
        with pytest.raises(ProductSystemError) as err:
            load_file(path)
        assert err.value.reason is Reason.MALFORMED


def test_empty_system_is_singular():
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system({**BASE, "products": [], "processes": []}))
    assert err.value.reason is Reason.SINGULAR_SYSTEM
