"""`compute` command through typer's CliRunner: tables, --json, errors."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from epd_footprint.cli import app

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "footprint" / "examples"
runner = CliRunner()


def test_table_output_for_one_product():
    result = runner.invoke(app, ["compute", str(EXAMPLES / "baotou-ndfeb.yaml"), "--product", "ndfeb-magnet"])
    assert result.exit_code == 0, result.output
    for text in (
        "ndfeb-magnet",
        "A1-A3",
        "GWP-biogenic",
        "ningbo-1/magnet-making[magnet-swarf]",
        "road-freight",
        "CF4",
        "economic",
        "2023-01/2023-12",
    ):
        assert text in result.output


def test_json_output_matches_hand_calculation():
    result = runner.invoke(app, ["compute", str(EXAMPLES / "three-level-chain.json"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    metal = next(f for f in doc["footprints"] if f["product"] == "metal")
    # 2 kg oxide (3 kg ore x 1 + 4 kWh x 0.5 + 0.1) + 10 kWh x 0.5 + 0.001 kg CF4 x 7380 + 0.05 (truck)
    assert float(metal["gwp"]["A1-A3"]["GWP-total"]) == pytest.approx(2 * 5.1 + 5 + 7.38 + 0.05, rel=1e-12)
    assert metal["gwp"]["A2"]["GWP-total"] == "0.05" and isinstance(metal["scaling"]["mine"], str)
    # 6 kg ore x 2 kWh + 2 kg oxide x 4 kWh + 10 kWh
    assert metal["background"]["electricity"] == {"amount": "30", "unit": "kWh"}
    assert metal["emissions"]["CF4"]["amount"] == "0.001" and len(doc["footprints"]) == 3


def test_errors_exit_2_with_reason(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: [unclosed")
    result = runner.invoke(app, ["compute", str(bad), "--json"])
    assert result.exit_code == 2 and json.loads(result.output)["error"]["reason"] == "malformed"
    result = runner.invoke(app, ["compute", str(EXAMPLES / "three-level-chain.json"), "--product", "[red]x"])
    assert result.exit_code == 2 and "unknown_reference" in result.output
