"""What the engine reports beyond the values: conditioning and supported digits, gross output, decimal
text without exponents, and every product's report from block solves, streamed."""

import copy
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from epd_footprint.engine import (
    ProductSystemError,
    Reason,
    compile_system,
    compute,
    footprint,
    iter_footprint_json,
    load_file,
    parse_system,
    solve_system,
    write_json,
)
from epd_footprint.engine.numbers import decimal_text, float_text

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "footprint" / "examples"
EL = [{"id": "el", "unit": "kWh", "category": "energy", "emissions": {"CO2": 0.5}, "default": True}]


def loop(gain: str) -> dict:
    """A product that takes back `gain` kg of itself per kg made (net output 1 - gain)."""
    return {
        "format": "epd-product-system/1",
        "gwp": "AR6",
        "background": copy.deepcopy(EL),
        "products": [{"id": "char", "unit": "kg"}],
        "processes": [
            {
                "id": "kiln",
                "outputs": [{"product": "char", "amount": 1, "unit": "kg"}],
                "inputs": [
                    {"product": "char", "amount": gain, "unit": "kg"},
                    {"activity": "el", "amount": 1, "unit": "kWh"},
                ],
            }
        ],
    }


def two_step_loop(gain: float) -> dict:
    """a needs b, b returns `gain` of a: a loop between two products that is nearly closed."""
    return {
        "format": "epd-product-system/1",
        "gwp": "AR6",
        "background": copy.deepcopy(EL),
        "products": [{"id": "a", "unit": "kg"}, {"id": "b", "unit": "kg"}],
        "processes": [
            {
                "id": "make-a",
                "outputs": [{"product": "a", "amount": 1, "unit": "kg"}],
                "inputs": [{"product": "b", "amount": 1, "unit": "kg"}, {"activity": "el", "amount": 1, "unit": "kWh"}],
            },
            {
                "id": "make-b",
                "outputs": [{"product": "b", "amount": 1, "unit": "kg"}],
                "inputs": [{"product": "a", "amount": gain, "unit": "kg"}],
            },
        ],
    }


def test_a_well_conditioned_system_keeps_twelve_digits_and_no_warning():
    res = solve_system(compile_system(load_file(EXAMPLES / "baotou-ndfeb.yaml")))
    assert res.digits == 12 and res.warnings == () and 1 <= res.condition < 1e4


def test_a_loop_that_returns_almost_everything_is_refused():
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(two_step_loop(1 - 1e-16)))
    assert err.value.reason in (Reason.ILL_CONDITIONED, Reason.SINGULAR_SYSTEM)
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(two_step_loop(1 - 4e-16)))
    assert err.value.reason is Reason.ILL_CONDITIONED and "condition estimate" in err.value.message


def test_an_ill_conditioned_loop_is_marked_and_rounded_to_the_digits_it_supports():
    fp = compute(parse_system(two_step_loop(1 - 1e-10)))[0]
    assert 1e9 < fp.condition < 1e12 and 4 <= fp.digits <= 6
    assert fp.warnings and "ill-conditioned" in fp.warnings[0] and f"{fp.digits} significant digits" in fp.warnings[0]
    value = fp.gwp["A1-A3"]["GWP-total"]  # exactly 0.5 / (1 - gain) = 5e9 kg CO2e per kg
    assert len(value.normalize().as_tuple().digits) <= fp.digits
    assert abs(value / Decimal("5e9") - 1) < Decimal(10) ** (1 - fp.digits)
    assert fp.as_dict()["solve"]["significant_digits"] == fp.digits


def test_own_use_gross_and_net_output():
    fp = compute(parse_system(loop("0.4")))[0]  # a kiln that burns 0.4 kg of its own char per kg made
    assert abs(fp.scaling["kiln"] - Decimal(1) / Decimal("0.6")) < Decimal("1e-11")
    gross, net, unit = fp.outputs["char"]
    assert unit == "kg" and net == Decimal(1) and abs(gross - Decimal(1) / Decimal("0.6")) < Decimal("1e-11")
    assert fp.as_dict()["outputs"]["char"] == {"gross": decimal_text(gross), "net": "1", "unit": "kg"}
    assert compute(parse_system(loop("0")))[0].as_dict()["outputs"]["char"] == {"gross": "1", "unit": "kg"}


def test_small_values_print_without_exponent():
    doc = loop("0")
    doc["background"][0]["emissions"] = {"CO2": "0.000000015"}
    fp = compute(parse_system(doc))[0]
    assert str(fp.gwp["A1-A3"]["GWP-total"]) == "1.5E-8"  # why as_dict never uses str()
    out = json.dumps(fp.as_dict())
    assert "E-" not in out and "e-" not in out and '"0.000000015"' in out
    assert decimal_text(Decimal("-0")) == "0" and decimal_text(Decimal("1.50E+3")) == "1500"
    assert float_text(1.5e-8) == "0.000000015" and float_text(123456789012345.0) == "123456789012000"
    assert float_text(2.0) == "2" and float_text(-0.0) == "0" and float_text(1 / 3, 4) == "0.3333"


def test_cli_tables_print_small_values_without_exponent(tmp_path):
    from typer.testing import CliRunner

    from epd_footprint.cli import app

    doc = loop("0")
    doc["background"][0]["emissions"] = {"CO2": "0.000000015"}
    path = tmp_path / "small.json"
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(app, ["compute", str(path)])
    assert result.exit_code == 0 and "0.000000015" in result.output and "e-08" not in result.output


@pytest.mark.parametrize("block", [1, 2, 256])
def test_block_solves_give_the_single_product_reports(block):
    system = load_file(EXAMPLES / "baotou-ndfeb.yaml")
    res = solve_system(compile_system(system))
    products = list(system.products)
    streamed = [json.loads(text) for text in iter_footprint_json(res, products, block=block)]
    assert [f["product"] for f in streamed] == products
    for product, item in zip(products, streamed, strict=True):
        assert item == footprint(res, product).as_dict()


def test_write_json_streams_one_valid_document():
    system = load_file(EXAMPLES / "three-level-chain.json")
    res = solve_system(compile_system(system))
    out = io.StringIO()
    write_json(out, system, res, list(system.products))
    doc = json.loads(out.getvalue())
    assert doc["gwp_set"] == system.gwp.name and [f["product"] for f in doc["footprints"]] == ["ore", "oxide", "metal"]
    out = io.StringIO()
    write_json(out, system, res, [], detail=False)
    assert json.loads(out.getvalue())["footprints"] == []


def test_large_outputs_are_not_limited_by_the_block():
    doc = copy.deepcopy(loop("0"))
    chain = [{"id": f"p{i}", "unit": "kg"} for i in range(300)]
    doc["products"] = chain
    doc["processes"] = [
        {
            "id": f"make-{i}",
            "outputs": [{"product": f"p{i}", "amount": 1, "unit": "kg"}],
            "inputs": ([{"product": f"p{i - 1}", "amount": 1, "unit": "kg"}] if i else [])
            + [{"activity": "el", "amount": 1, "unit": "kWh"}],
        }
        for i in range(300)
    ]
    system = parse_system(doc)
    res = solve_system(compile_system(system))
    last = json.loads(list(iter_footprint_json(res, list(system.products), block=64))[-1])
    assert last["gwp"]["A1-A3"]["GWP-total"] == "150" and len(last["scaling"]) == 300
