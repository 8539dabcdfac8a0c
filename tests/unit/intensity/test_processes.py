from decimal import Decimal
from pathlib import Path

import pytest

from epd.v1 import intensity_pb2
from epd_intensity.processes import ProcessConfigError, load_processes, parse_processes

EXAMPLE = Path(__file__).parents[3] / "services/intensity/config/processes.example.yaml"
BASE = "processes:\n  - {process_id: p/x, plant_id: p, grid_region: north, products: [a]%s}\n"


def test_example_chain_loads():
    procs = load_processes(EXAMPLE)
    sx = procs["baotou-1/solvent-extraction"]
    assert sx.allocation_basis == intensity_pb2.ALLOCATION_BASIS_ECONOMIC
    assert sx.allocation.prices["ndpr-oxide"] == Decimal("450")
    assert "2025-Q1" in sx.allocation.wire_basis
    assert procs["baotou-1/electrolysis"].emission_model.product == "nd-metal"


def test_float_prices_keep_their_decimal_text():
    text = (
        "processes:\n  - {process_id: p/x, plant_id: p, grid_region: north, products: [a, b], allocation: "
        "{basis: economic, prices: {a: 0.1, b: 520.5}, price_basis: q, price_period: '2024'}}\n"
    )
    assert parse_processes(text)["p/x"].allocation.prices == {"a": Decimal("0.1"), "b": Decimal("520.5")}


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (", products: [a, b]", "allocation basis"),
        (", products: [a, a], allocation: {basis: mass}", "unique"),
        (", allocation: {basis: economic, prices: {a: 1}, price_basis: '', price_period: ''}", "price_basis"),
        (", allocation: {basis: economic, prices: {b: 1}, price_basis: x, price_period: y}", "exactly the products"),
        (", allocation: {basis: economic, prices: {a: .nan}, price_basis: x, price_period: y}", "finite"),
        (", allocation: {basis: economic, prices: {a: -3}, price_basis: x, price_period: y}", "positive"),
        (", allocation: {basis: mass, prices: {a: 1}}", "only meaningful"),
        (", allowed_lateness_s: -1", "greater than or equal"),
        (", allowed_lateness_s: 99999999", "less than or equal"),
        (", emission_model: {activity: model.x, product: zzz}", "not a product"),
        (", plant_id: other", "must start with"),
        (", grid_region: 'North China; DROP TABLE'", "pattern"),
        (", surprise: 1", "Extra inputs"),
    ],
)
def test_bad_process_config_is_refused_with_reason(extra, reason):
    text = BASE % extra
    if ", products: [" in extra:
        text = text.replace(", products: [a]", "", 1)
    if ", plant_id: other" in extra:
        text = text.replace("plant_id: p,", "", 1)
    if ", grid_region:" in extra:
        text = text.replace("grid_region: north,", "", 1)
    with pytest.raises(ProcessConfigError, match=reason):
        parse_processes(text)


@pytest.mark.parametrize(
    "text", ["", "processes: []", "processes: 3", "[[[", "- a\n- b", BASE % "" + BASE.replace("processes:\n", "") % ""]
)
def test_empty_or_garbage_configs_fail_clearly(text):
    with pytest.raises(ProcessConfigError):
        parse_processes(text)


def test_unreadable_file(tmp_path):
    with pytest.raises(ProcessConfigError, match="cannot read"):
        load_processes(tmp_path / "missing.yaml")
