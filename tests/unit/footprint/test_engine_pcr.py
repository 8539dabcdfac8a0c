"""The engine refuses a product system that breaks its product category rules, with the reason."""

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from epd_footprint.cli import app
from epd_footprint.engine import CategoryRule, ProductSystemError, Reason, check_pcr, load_file
from epd_footprint.engine.model import AllocationMethod
from epd_footprint.engine.pcr import upstream_processes

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "footprint" / "examples"
RULE = CategoryRule(
    pcr_id="pcr-rare-earths",
    version="1.0",
    declared_amount=Decimal(1),
    declared_unit="kg",
    modules=("A1", "A2", "A3", "A1-A3"),
    allocation_methods=frozenset({AllocationMethod.MASS, AllocationMethod.ECONOMIC}),
    gwp_set="AR6",
)
PCR_DOC = {
    "pcr_id": "pcr-rare-earths",
    "version": "1.0",
    "name": "Rare-earth oxides, metals and magnets",
    "operator_name": "National Rare-Earth EPD Programme",
    "valid_from": "2025-01-01",
    "valid_until": "2030-01-01",
    "declared_unit": {"amount": 1, "unit": "kg"},
    "modules": ["A1", "A2", "A3", "A1-A3"],
    "cut_off_rule": "1 % of mass and energy per unit process, 5 % per module",
    "allocation_methods": ["mass", "economic"],
    "gwp_set": "AR6",
    "standards": ["EN 15804+A2", "ISO 14025"],
}


@pytest.fixture(scope="module")
def system():
    return load_file(EXAMPLES / "baotou-ndfeb.yaml")


def test_the_example_follows_the_rules(system):
    for product in system.products:
        check_pcr(system, product, RULE)


def test_upstream_processes_follow_product_inputs(system):
    assert upstream_processes(system, "roasted-ore") == ["baotou-1/acid-roasting", "baotou-1/mine-beneficiation"]
    assert "baotou-2/solvent-extraction" in upstream_processes(system, "ndfeb-magnet")


@pytest.mark.parametrize(
    ("change", "product", "reason", "needle"),
    [
        ({"declared_unit": "t"}, "ndpr-metal", Reason.PCR_DECLARED_UNIT, "requires 1 t"),
        ({"declared_amount": Decimal(1000), "declared_unit": "g"}, "ndpr-metal", None, ""),
        ({"allocation_methods": frozenset({AllocationMethod.MASS})}, "ndpr-oxide", Reason.PCR_ALLOCATION, "economic"),
        ({"allocation_methods": frozenset()}, "ndfeb-magnet", Reason.PCR_ALLOCATION, "allows: none"),
        ({"allocation_methods": frozenset({AllocationMethod.MASS})}, "roasted-ore", None, ""),  # mass upstream only
        ({"gwp_set": "AR5"}, "roasted-ore", Reason.PCR_GWP_SET, "requires AR5"),
        ({"modules": ("A1-A3", "C1", "D")}, "roasted-ore", Reason.PCR_MODULES, "C1, D"),
    ],
)
def test_refusals_name_the_rule(system, change, product, reason, needle):
    rule = dataclasses.replace(RULE, **change)
    if reason is None:
        check_pcr(system, product, rule)
        return
    with pytest.raises(ProductSystemError) as err:
        check_pcr(system, product, rule)
    assert err.value.reason is reason and needle in err.value.message and "PCR pcr-rare-earths 1.0" in err.value.message
    assert err.value.where == f"product {product}"


def test_compute_checks_a_pcr_file(tmp_path):
    pcr = tmp_path / "pcr.yaml"
    pcr.write_text(yaml.safe_dump(PCR_DOC))
    runner = CliRunner()
    ok = runner.invoke(app, ["compute", str(EXAMPLES / "baotou-ndfeb.yaml"), "--pcr", str(pcr), "-p", "ndpr-metal"])
    assert ok.exit_code == 0, ok.output
    pcr.write_text(yaml.safe_dump({**PCR_DOC, "allocation_methods": ["mass"]}))
    bad = runner.invoke(app, ["compute", str(EXAMPLES / "baotou-ndfeb.yaml"), "--pcr", str(pcr), "--json"])
    assert bad.exit_code == 2 and '"reason": "pcr_allocation"' in bad.output
