"""`epd connector register-plant`: the plant YAML and command-line options become the body of the footprint
admin API's PUT /plants/{plant_id}/site; nothing is guessed and every missing value is named."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from epd_connector import signing
from epd_connector.cli import app
from epd_connector.config import StageName, parse_plant_config
from epd_connector.keys import key_id_for
from epd_connector.registration import (
    RegistrationError,
    SiteOverrides,
    parse_assignments,
    parse_stages,
    site_request,
)
from epd_footprint.schemas import SiteIn

CONFIG_DIR = Path(__file__).resolve().parents[3] / "services" / "connector" / "config"
EXAMPLES = sorted(CONFIG_DIR.glob("*.yaml"))
KEY = signing.generate_private_key().public_key()


def smelter(**changes) -> dict:
    doc = yaml.safe_load((CONFIG_DIR / "baotou-smelter.yaml").read_text())
    doc.update(changes)
    return doc


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_plants_map_to_a_body_the_admin_api_accepts(path):
    plant = parse_plant_config(yaml.safe_load(path.read_text()))
    body = site_request(plant, KEY)
    SiteIn.model_validate(body)  # the admin API's own input model
    assert [m["meter_id"] for m in body["meters"]] == [m.meter_id for m in plant.meters]
    assert {p["process_id"] for p in body["processes"]} == {m.process_id for m in plant.meters}
    assert base64.b64decode(body["key"]["public_key"]) == signing.public_key_to_raw(KEY)


def test_the_smelter_body_in_detail():
    body = site_request(parse_plant_config(smelter()), KEY)
    assert {k: body[k] for k in ("organisation_id", "name", "province", "grid_region")} == {
        "organisation_id": "org-baotou-re",
        "name": "Baotou smelter (demo)",
        "province": "CN-NM",
        "grid_region": "north",
    }
    assert body["key"]["key_id"] == key_id_for(KEY)  # no key_id in the YAML: the key's thumbprint names it
    pinned = site_request(parse_plant_config(smelter(key_id="baotou-smelter-2025")), KEY)
    assert pinned["key"]["key_id"] == "baotou-smelter-2025"
    assert body["processes"] == [
        {"process_id": "baotou-smelter/roasting", "name": "Sulfuric-acid roasting", "stage": "roasting"},
        {
            "process_id": "baotou-smelter/leaching",
            "name": "Water leaching and carbonate precipitation",
            "stage": "leaching",
        },
        {
            "process_id": "baotou-smelter/solvent-extraction",
            "name": "Solvent extraction to Nd oxide",
            "stage": "separation",
        },
    ]
    assert body["products"] == [
        {"product_id": "mixed-re-carbonate", "name": "Mixed rare-earth carbonate"},
        {"product_id": "nd-oxide-99", "name": "Neodymium oxide 99 %"},
        {"product_id": "re-calcine", "name": "Acid-roasted calcine"},
    ]
    meters = {m["meter_id"]: m for m in body["meters"]}
    assert meters["roasting.electricity"] == {
        "meter_id": "roasting.electricity",
        "process_id": "baotou-smelter/roasting",
        "activity_kind": "electricity",
        "activity": "electricity.grid",
        "unit": "kWh",
        "reading_kind": "counter",
        "counter_modulus": "100000000",  # the YAML's rollover, as a decimal string
        "max_rate_per_hour": "135000",
        "reset_floor": "0",
        "interval_seconds": 60,
    }
    assert meters["roasting.output"]["product_id"] == "re-calcine"
    assert "counter_modulus" not in meters["roasting.output"]
    assert json.loads(json.dumps(body)) == body  # plain JSON: no Decimals or enums left


def test_missing_values_are_all_named_and_nothing_is_guessed():
    doc = smelter(site={}, processes=[{"process_id": "baotou-smelter/roasting", "name": "Roasting"}])
    with pytest.raises(RegistrationError) as err:
        site_request(parse_plant_config(doc), KEY)
    message = str(err.value)
    for needle in (
        "site.organisation_id or --organisation",
        "site.name or --name",
        "site.province or --province",
        "site.grid_region or --grid-region",
        "processes[baotou-smelter/roasting].stage or --process-stage baotou-smelter/roasting=STAGE",
        "processes[baotou-smelter/leaching].name",
        "processes[baotou-smelter/solvent-extraction].stage",
    ):
        assert needle in message
    assert "processes[baotou-smelter/roasting].name" not in message


def test_command_line_values_complete_and_override_the_yaml():
    doc = smelter(site={"province": "CN-NM"}, processes=[], products=[])
    overrides = SiteOverrides(
        organisation_id="org-x",
        name="Smelter X",
        province="CN-BJ",
        grid_region="north",
        process_names={p: f"name of {p}" for p in ("baotou-smelter/roasting", "baotou-smelter/leaching")}
        | {"baotou-smelter/solvent-extraction": "SX"},
        process_stages={
            "baotou-smelter/roasting": StageName.ROASTING,
            "baotou-smelter/leaching": StageName.LEACHING,
            "baotou-smelter/solvent-extraction": StageName.SEPARATION,
        },
        product_names={"re-calcine": "Calcine"},
    )
    body = site_request(parse_plant_config(doc), KEY, overrides)
    assert (body["organisation_id"], body["name"], body["province"]) == ("org-x", "Smelter X", "CN-BJ")
    assert body["processes"][2] == {
        "process_id": "baotou-smelter/solvent-extraction",
        "name": "SX",
        "stage": "separation",
    }
    assert body["products"] == [{"product_id": "re-calcine", "name": "Calcine"}]  # the others must be registered
    renamed = site_request(parse_plant_config(smelter()), KEY, SiteOverrides(name="Renamed"))
    assert renamed["name"] == "Renamed"


def test_options_naming_ids_no_meter_uses_are_refused():
    with pytest.raises(RegistrationError, match="no meter uses: baotou-smelter/typo"):
        site_request(parse_plant_config(smelter()), KEY, SiteOverrides(process_names={"baotou-smelter/typo": "x"}))
    with pytest.raises(RegistrationError, match="no-such-product"):
        site_request(parse_plant_config(smelter()), KEY, SiteOverrides(product_names={"no-such-product": "x"}))


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        (["a"], "expects ID=VALUE"),
        (["=x"], "expects ID=VALUE"),
        (["a="], "expects ID=VALUE"),
        (["a=1", "a=2"], "twice"),
    ],
)
def test_assignment_options_are_checked(values, needle):
    with pytest.raises(RegistrationError, match=needle):
        parse_assignments(values, "--process-name")


def test_stage_options_are_checked():
    assert parse_stages(["p=magnet"]) == {"p": StageName.MAGNET}
    assert parse_assignments(["p=a=b"], "--x") == {"p": "a=b"}
    with pytest.raises(RegistrationError, match="not one of mining"):
        parse_stages(["p=cooking"])


def _cli(tmp_path: Path, doc: dict, *args: str, env: dict[str, str] | None = None):
    plant = tmp_path / "plant.yaml"
    plant.write_text(yaml.safe_dump(doc))
    pub = tmp_path / "plant.pub"
    pub.write_bytes(signing.public_key_to_pem(KEY))
    return CliRunner().invoke(app, ["register-plant", str(plant), "--key-file", str(pub), *args], env=env)


def test_cli_dry_run_prints_the_body(tmp_path):
    result = _cli(tmp_path, smelter(), "--dry-run", "--name", "Dry")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["name"] == "Dry" and len(body["meters"]) == len(smelter()["meters"])


def test_cli_refuses_missing_values_and_a_missing_token_before_any_request(tmp_path):
    missing = _cli(tmp_path, smelter(site={}), env={"EPD_FOOTPRINT_ADMIN_TOKEN": "x" * 20})
    assert missing.exit_code == 2 and "site.name or --name" in missing.output
    no_token = _cli(tmp_path, smelter(), env={"EPD_FOOTPRINT_ADMIN_TOKEN": ""})
    assert no_token.exit_code == 2 and "EPD_FOOTPRINT_ADMIN_TOKEN is not set" in no_token.output
    bad_stage = _cli(tmp_path, smelter(), "--process-stage", "baotou-smelter/roasting=cooking")
    assert bad_stage.exit_code == 2 and "not one of" in bad_stage.output
