"""Grafana files under deploy/grafana: the committed dashboards are the generator's output, every
panel uses the provisioned datasource uid, and every query (panels and recording rules) is valid PromQL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import yaml

from tests.conftest import REPO

GRAFANA = REPO / "deploy" / "grafana"
sys.path.insert(0, str(GRAFANA))

import generate  # noqa: E402
import queries  # noqa: E402


def test_committed_dashboards_equal_the_generator_output():
    files = generate.render()
    assert set(files) == {p.name for p in (GRAFANA / "dashboards").glob("*.json")}
    for name, text in files.items():
        assert (GRAFANA / "dashboards" / name).read_text() == text, f"{name} is stale: run deploy/grafana/generate.py"


def test_the_four_dashboards_of_the_issue_exist():
    uids = {json.loads(p.read_text())["uid"] for p in (GRAFANA / "dashboards").glob("*.json")}
    assert uids == {"epd-pipeline-overview", "epd-red", "epd-partner-delivery", "epd-plant-telemetry"}


def test_every_panel_uses_the_provisioned_datasource_uid():
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = provisioned["datasources"]
    assert source["uid"] == "epd-prometheus" and source["type"] == "prometheus"
    for path in (GRAFANA / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == source["uid"], (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])
            assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])


def test_panels_do_not_overlap():
    for path in (GRAFANA / "dashboards").glob("*.json"):
        taken = set()
        for panel in json.loads(path.read_text())["panels"]:
            g = panel["gridPos"]
            assert g["x"] + g["w"] <= 24, (path.name, panel["title"])
            cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & taken, (path.name, panel["title"])
            taken |= cells


def test_query_listing_covers_every_panel_target_and_recording_rule():
    listed = {q.expr for q in queries.all_queries()}
    for path in (GRAFANA / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                assert target["expr"] in listed
    records = [
        r
        for g in yaml.safe_load((REPO / "deploy/prometheus/rules/recording.yml").read_text())["groups"]
        for r in g["rules"]
    ]
    assert len(queries.recording_rule_queries()) == len(records) > 0


def test_every_query_is_valid_promql(tmp_path):
    """promtool parses each query as a recording rule: a typo in a panel fails here, not in Grafana."""
    rules = [{"record": f"check:query_{i}", "expr": q.promql()} for i, q in enumerate(queries.all_queries())]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run(
        [shutil.which("promtool") or "promtool", "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
