"""Plant YAML loading: the shipped examples load; malformed and hostile files give clear errors."""

from pathlib import Path

import pytest
import yaml

from epd_connector.config import ConfigError, load_plant_config, load_plant_config_text, parse_plant_config
from epd_connector.simulator.ratios import load_ratios

CONFIG_DIR = Path(__file__).resolve().parents[3] / "services" / "connector" / "config"
EXAMPLES = sorted(CONFIG_DIR.glob("*.yaml"))


def _base() -> dict:
    return yaml.safe_load((CONFIG_DIR / "baotou-smelter.yaml").read_text())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_load_and_match_simulator_meters(path):
    cfg = load_plant_config(path)
    sim_meters = {m.meter_id: m for s in load_ratios().values() for m in s.meters}
    for m in cfg.meters:
        assert m.meter_id in sim_meters, m.meter_id
        sim = sim_meters[m.meter_id]
        assert (m.unit, m.kind.value, m.activity) == (sim.meter_unit, sim.kind, sim.activity)
        assert m.process_id.startswith(cfg.plant_id + "/")


def test_examples_cover_the_whole_chain():
    stages = {m.meter_id.split(".")[0] for p in EXAMPLES for m in load_plant_config(p).meters}
    assert stages == set(load_ratios())


def _mutate(fn) -> dict:
    d = _base()
    fn(d)
    return d


BAD = {
    "no meters": (lambda d: d.update(meters=[]), "meters"),
    "duplicate meter": (lambda d: d["meters"].append(dict(d["meters"][0])), "duplicate meter_id"),
    "unknown activity kind": (lambda d: d["meters"][0].update(activity_kind="plasma"), "meters.0.activity_kind"),
    "bad kind": (lambda d: d["meters"][0].update(kind="sometimes"), "meters.0.kind"),
    "id with NUL": (lambda d: d.update(plant_id="baotou\x00"), "plant_id"),
    "id too long": (lambda d: d.update(plant_id="p" * 300), "plant_id"),
    "unit with junk": (lambda d: d["meters"][0].update(unit="kWh; rm -rf /"), "meters.0.unit"),
    "no sources": (lambda d: d["meters"][0].update(sources={}), "source binding"),
    "mqtt wildcard": (lambda d: d["meters"][0]["sources"]["mqtt"].update(topic="plants/#"), "wildcards"),
    "bad json path": (lambda d: d["meters"][0]["sources"]["mqtt"].update(json_path="value"), "json_path"),
    "rollover on interval": (lambda d: d["meters"][0].update(rollover="10"), "rollover only applies"),
    "negative rollover": (lambda d: d["meters"][1].update(rollover="-5"), "meters.1.rollover"),
    "output without product": (lambda d: d["meters"][0].pop("product_id"), "product_id"),
    "unknown field": (lambda d: d.update(colour="blue"), "colour"),
    "batch size zero": (lambda d: d.update(batching={"max_readings": 0}), "batching.max_readings"),
    "huge batch": (lambda d: d.update(batching={"max_readings": 10**9}), "batching.max_readings"),
    "unknown stage": (lambda d: d["processes"][0].update(stage="cooking"), "processes.0.stage"),
    "duplicate process": (lambda d: d["processes"].append(dict(d["processes"][0])), "duplicate process_id"),
    "process no meter names": (
        lambda d: d["processes"].append({"process_id": "baotou-smelter/x", "name": "x", "stage": "other"}),
        "processes that no meter names: baotou-smelter/x",
    ),
    "product no meter names": (
        lambda d: d["products"].append({"product_id": "other", "name": "x"}),
        "products that no meter names: other",
    ),
    "product without name": (lambda d: d["products"][0].pop("name"), "products.0.name"),
    "site name too long": (lambda d: d["site"].update(name="n" * 501), "site.name"),
    "site latitude": (lambda d: d["site"].update(latitude=91), "site.latitude"),
    "organisation with NUL": (lambda d: d["site"].update(organisation_id="o\x00"), "site.organisation_id"),
    "shared opcua node": (
        lambda d: d["meters"][1]["sources"].update(opcua=d["meters"][0]["sources"]["opcua"]),
        "bound to both",
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_invalid_config_names_the_field(name):
    fn, needle = BAD[name]
    with pytest.raises(ConfigError) as err:
        parse_plant_config(_mutate(fn), "plant.yaml")
    assert needle in str(err.value)
    assert str(err.value).startswith("plant.yaml")


@pytest.mark.parametrize(
    "text", ["", "- a\n- b\n", "plant_id: [unclosed", "just a string", "!!python/object:os.system x"]
)
def test_non_mapping_or_broken_yaml(text):
    with pytest.raises(ConfigError):
        load_plant_config_text(text, "x.yaml")


def test_file_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_plant_config(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"plant_id: caf\xe9\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_plant_config(bad)
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"plant_id: a\x00b\n")
    with pytest.raises(ConfigError, match="NUL"):
        load_plant_config(nul)


def test_oversized_config_refused():
    with pytest.raises(ConfigError, match="larger than"):
        load_plant_config_text("#" * 2_000_000)


def test_config_feeds_the_ingest_registry():
    from epd_connector import signing
    from epd_ingest.registry import InMemoryPlantRegistry

    reg = InMemoryPlantRegistry()
    key = signing.generate_private_key().public_key()
    for p in EXAMPLES:
        reg.register_plant_mapping(yaml.safe_load(p.read_text()), {"k": key})
    meter = reg.plant("baotou-metals").meters["electrolysis.cf4"]
    assert meter.max_rate_per_hour is not None and meter.max_rate_per_hour < 1  # g/h -> kg/h


def test_registration_sections_are_optional_for_the_connector():
    d = _base()
    for section in ("site", "processes", "products"):
        d.pop(section)
    assert parse_plant_config(d).site.name is None


def test_examples_agree_with_the_demo_registry():
    """A product already registered must carry the site's name for it, so the example plants name their
    products and organisation as deploy/demo/products.yaml registers them."""
    demo = yaml.safe_load((CONFIG_DIR.parents[2] / "deploy" / "demo" / "products.yaml").read_text())
    names = {p["product_id"]: p["name"] for p in demo["products"]}
    for path in EXAMPLES:
        cfg = load_plant_config(path)
        assert cfg.site.organisation_id == demo["organisation"]["organisation_id"]
        for product in cfg.products:
            assert names[product.product_id] == product.name, product
        outputs = {m.product_id for m in cfg.meters if m.product_id}
        assert outputs == {p.product_id for p in cfg.products}
