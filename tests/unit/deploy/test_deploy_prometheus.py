"""Prometheus files under deploy/prometheus: promtool accepts the configurations and rules, and the
rule unit tests pass with a firing and a non-firing case for every alert."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

PROM = REPO / "deploy" / "prometheus"
ALERTS = PROM / "rules" / "alerts.yml"
# Minute-scale alerts, and those over a day or more evaluated every 10 minutes (promtool time).
RULE_TESTS = (PROM / "tests" / "alerts.test.yml", PROM / "tests" / "alerts-daily.test.yml")


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    assert binary, "promtool missing: deploy/local/install-system.sh installs Debian's prometheus package"
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=REPO, timeout=120)


def alert_names() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]


@pytest.mark.parametrize("config", ["prometheus.local.yml", "prometheus.compose.yml"])
def test_promtool_accepts_the_scrape_configuration(config):
    result = promtool("check", "config", str(PROM / config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", *map(str, sorted((PROM / "rules").glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_pass():
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_has_a_firing_and_a_non_firing_case():
    groups = [t for f in RULE_TESTS for t in yaml.safe_load(f.read_text())["tests"]]
    cases = [c for t in groups for c in t.get("alert_rule_test", [])]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    names = alert_names()
    assert len(names) >= 9
    assert not set(names) - firing, f"alerts without a firing case: {set(names) - firing}"
    assert not set(names) - quiet, f"alerts without a non-firing case: {set(names) - quiet}"
    assert not (firing | quiet) - set(names), "rule tests name alerts that do not exist"


def test_the_issue_s_alerts_are_all_there():
    names = set(alert_names())
    for wanted in (
        "EpdServiceDown",
        "EpdConsumerLagGrowing",
        "EpdOutboxBacklogOld",
        "EpdDeadLettersGrowing",
        "EpdRejectedReadingsHigh",
        "EpdConnectorSpoolFilling",
        "EpdDriftEventSurge",
        "EpdFreshnessBudgetBurnFast",
        "EpdFreshnessBudgetBurnSlow",
    ):
        assert wanted in names


def test_every_alert_has_a_severity_and_a_summary():
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]


def test_local_and_compose_scrape_the_same_jobs_at_the_env_example_ports():
    env = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line.startswith("EPD_") and "=" in line
    )
    jobs = {}
    for config in ("prometheus.local.yml", "prometheus.compose.yml"):
        scrape = yaml.safe_load((PROM / config).read_text())["scrape_configs"]
        jobs[config] = {j["job_name"]: [t for s in j["static_configs"] for t in s["targets"]] for j in scrape}
    assert jobs["prometheus.local.yml"].keys() == jobs["prometheus.compose.yml"].keys()
    for service in ("connector", "ingest", "intensity", "footprint", "publisher", "gateway"):
        port = env[f"EPD_{service.upper()}_METRICS_PORT"]
        assert jobs["prometheus.local.yml"][service][0] == f"127.0.0.1:{port}"
        assert jobs["prometheus.compose.yml"][service] == [f"{service}:{port}"]
    # make run starts one connector per plant; the local scrape covers each of them and nothing else.
    from epd_devstack.demo.system import PORTS

    connectors = sorted(f"127.0.0.1:{p}" for name, p in PORTS.items() if name.startswith("connector-"))
    assert sorted(jobs["prometheus.local.yml"]["connector"]) == connectors
