"""docker-compose.yml cannot run here (no engine); parse it and check it agrees with .env.example."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

SERVICES = {"connector", "intensity", "footprint", "publisher", "gateway"}


def env_example() -> dict[str, str]:
    out = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert re.fullmatch(r"EPD_[A-Z0-9_]+", name), f"bad variable name {name!r}"
            out[name] = value
    return out


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_every_service_and_dependency_has_a_healthcheck():
    svcs = compose()["services"]
    assert SERVICES <= set(svcs)
    for name, svc in svcs.items():
        assert "healthcheck" in svc, f"{name} has no healthcheck"


def test_service_ports_agree_with_env_example():
    env = env_example()
    svcs = compose()["services"]
    for name in SERVICES:
        published = {int(p.split(":")[1]) for p in svcs[name].get("ports", [])}
        declared = {int(v) for k, v in env.items() if k.startswith(f"EPD_{name.upper()}_") and k.endswith("_PORT")}
        assert declared <= published, f"{name}: ports {declared - published} in .env.example are not published"


def test_variables_set_in_compose_are_declared_in_env_example():
    env = env_example()
    for name, svc in compose()["services"].items():
        for var in (svc.get("environment") or {}):
            if var.startswith("EPD_"):
                assert var in env, f"{name} sets {var}, which .env.example does not declare"


def test_infrastructure_ports_match_the_local_stack():
    env = env_example()
    svcs = compose()["services"]
    assert f"{env['EPD_KAFKA_PORT']}:9092" in svcs["kafka"]["ports"]
    assert f"{env['EPD_PG_PORT']}:5432" in svcs["postgres"]["ports"]
    assert f"{env['EPD_MQTT_PORT']}:1883" in svcs["mosquitto"]["ports"]
    assert svcs["kafka"]["image"].startswith("apache/kafka:4.")
    assert svcs["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
