"""docker-compose.yml cannot run here (no engine); parse it and check it agrees with .env.example."""

from __future__ import annotations

import re
import subprocess

import yaml

from epd_common import kafka_access
from tests.conftest import REPO

SERVICES = {"connector", "ingest", "intensity", "footprint", "publisher", "gateway"}


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
    assert set(svcs) >= SERVICES
    for name, svc in svcs.items():
        assert "healthcheck" in svc, f"{name} has no healthcheck"


def test_service_ports_agree_with_env_example():
    env = env_example()
    svcs = compose()["services"]
    for name in SERVICES:
        published = {int(p.split(":")[1]) for p in svcs[name].get("ports", [])}
        declared = {
            int(v)
            for k, v in env.items()
            if k.startswith(f"EPD_{name.upper()}_") and re.search(r"_(METRICS|HTTP|HTTPS|ADMIN|WEB)_PORT$", k)
        }
        assert declared <= published, f"{name}: ports {declared - published} in .env.example are not published"


def test_variables_set_in_compose_are_declared_in_env_example():
    env = env_example()
    for name, svc in compose()["services"].items():
        for var in svc.get("environment") or {}:
            if var.startswith("EPD_"):
                assert var in env, f"{name} sets {var}, which .env.example does not declare"


def test_infrastructure_ports_match_the_local_stack():
    env = env_example()
    svcs = compose()["services"]
    assert f"127.0.0.1:{env['EPD_KAFKA_PORT']}:9092" in svcs["kafka"]["ports"]
    assert f"127.0.0.1:{env['EPD_PG_PORT']}:5432" in svcs["postgres"]["ports"]
    assert f"127.0.0.1:{env['EPD_MQTT_PORT']}:1883" in svcs["mosquitto"]["ports"]
    assert svcs["kafka"]["image"].startswith("apache/kafka:4.")
    assert svcs["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_every_port_is_published_on_the_loopback_only():
    """A development setup with placeholder secrets and a password-less broker: nothing on the LAN."""
    for name, svc in compose()["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_published_services_listen_on_the_container_address_and_write_only_to_volumes():
    """.env.example's hosts are 127.0.0.1 (a process on this machine): inside a container that would
    leave the published port unreachable. The image's /app is read-only to the service user."""
    env, svcs = env_example(), compose()["services"]
    hosts = {
        "connector": "EPD_CONNECTOR_HTTP_HOST",
        "footprint": "EPD_FOOTPRINT_ADMIN_HOST",
        "gateway": "EPD_GATEWAY_HOST",
    }
    for name, variable in hosts.items():
        assert env[variable] == "127.0.0.1"
        assert svcs[name]["environment"][variable] == "0.0.0.0", name
    assert svcs["gateway"]["environment"]["EPD_GATEWAY_TLS_DIR"].startswith("/var/lib/epd/")
    assert svcs["intensity"]["environment"]["EPD_INTENSITY_DATA_DIR"].startswith("/var/lib/epd/")
    assert env["EPD_ENVIRONMENT"] == "local" and svcs["gateway"]["env_file"] == ".env.example"


def test_every_service_waits_for_kafka_postgres_and_migrations():
    svcs = compose()["services"]
    for name in SERVICES:
        deps = svcs[name]["depends_on"]
        assert deps["kafka"]["condition"] == deps["postgres"]["condition"] == "service_healthy", name
        assert deps["migrate"]["condition"] == "service_completed_successfully", name


def test_dependencies_exist_and_have_no_cycle():
    svcs = compose()["services"]
    graph = {n: set(s.get("depends_on") or {}) for n, s in svcs.items()}
    for name, deps in graph.items():
        assert deps <= set(svcs), f"{name} depends on {deps - set(svcs)}"
    seen: set[str] = set()
    while len(seen) < len(graph):
        ready = {n for n, d in graph.items() if n not in seen and d <= seen}
        assert ready, f"dependency cycle among {set(graph) - seen}"
        seen |= ready


def test_prometheus_scrapes_every_service_at_its_compose_port():
    svcs = compose()["services"]
    prom = svcs["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prom["volumes"]
    config_file = next(a for a in prom["command"] if a.startswith("--config.file=")).split("=", 1)[1]
    config = yaml.safe_load((REPO / "deploy/prometheus" / config_file.removeprefix("/etc/prometheus/")).read_text())
    for job in config["scrape_configs"]:
        for target in (t for s in job["static_configs"] for t in s["targets"]):
            host, port = target.split(":")
            if host == "localhost":
                continue
            assert host in svcs, f"scrape target {target} is not a compose service"
            assert any(p.endswith(f":{port}") for p in svcs[host].get("ports", [])), target
    scraped = {j["job_name"] for j in config["scrape_configs"]}
    assert scraped >= SERVICES


def test_grafana_is_provisioned_from_deploy():
    grafana = compose()["services"]["grafana"]
    mounts = {v.split(":")[1]: REPO / v.split(":")[0] for v in grafana["volumes"]}
    assert (mounts["/etc/grafana/provisioning"] / "datasources" / "prometheus.yml").exists()
    provider = yaml.safe_load((mounts["/etc/grafana/provisioning"] / "dashboards" / "epd.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert list(mounts["/var/lib/grafana/dashboards"].glob("*.json"))
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (mounts["/var/lib/grafana/dashboards"] / home.rsplit("/", 1)[1]).exists()
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_the_image_runs_as_a_non_root_user():
    dockerfile = (REPO / "deploy/docker/Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert "slim" in dockerfile


KAFKA_SERVICES = {"connector", "ingest", "intensity", "footprint", "publisher"}


def test_the_broker_is_secured_like_the_local_stack():
    """SASL_SSL (SCRAM-SHA-512) for clients and brokers, PLAIN on the controller listener, the
    StandardAuthorizer with no access without an ACL, the two super users; the admin's password is
    the one the storage is formatted with (deploy/compose/kafka-start.sh: --add-scram)."""
    kafka = compose()["services"]["kafka"]
    env = kafka["environment"]
    assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "CONTROLLER:SASL_SSL,SASL_SSL:SASL_SSL"
    assert env["KAFKA_ADVERTISED_LISTENERS"].startswith("SASL_SSL://") and "PLAINTEXT" not in env["KAFKA_LISTENERS"]
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == env["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL"] == "PLAIN"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:epd-admin;User:epd-controller"
    start = kafka["entrypoint"][0]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in kafka["volumes"] if v.startswith("./")}
    script = (REPO / mounted[start]).read_text()
    assert "--add-scram" in script and "name=epd-admin" in script
    assert env["KAFKA_SSL_KEYSTORE_LOCATION"].startswith(next(k for k, v in mounted.items() if v.endswith("/tls")))


def test_each_kafka_service_is_its_own_principal_and_provisioning_runs_first():
    svcs = compose()["services"]
    provision = svcs["kafka-provision"]
    admin = provision["environment"]
    assert admin["EPD_KAFKA_USERNAME"] == "epd-admin" and provision["entrypoint"][:3] == [
        "epd",
        "kafka",
        "grant-services",
    ]
    assert admin["EPD_KAFKA_PASSWORD"] == svcs["kafka"]["environment"]["BROKER_ADMIN_PASSWORD"]
    password_dir = provision["entrypoint"][provision["entrypoint"].index("--password-dir") + 1]
    files = {c["target"]: compose()["configs"][c["source"]]["content"] for c in provision["configs"]}
    passwords = {}
    for name in KAFKA_SERVICES:
        env = svcs[name]["environment"]
        assert env["EPD_KAFKA_USERNAME"] == f"epd-{name}", name
        assert env["EPD_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert any(v.endswith(f":{env['EPD_KAFKA_CA_FILE']}:ro") for v in svcs[name]["volumes"]), name
        assert files[f"{password_dir}/epd-{name}.password"] == env["EPD_KAFKA_PASSWORD"], name
        assert svcs[name]["depends_on"]["kafka-provision"]["condition"] == "service_completed_successfully", name
        passwords[name] = env["EPD_KAFKA_PASSWORD"]
    assert len(set(passwords.values())) == len(passwords), "two principals share a password"
    # every principal grant-services provisions has its password given (none made up inside the container)
    assert {f"{password_dir}/{p}.password" for p in kafka_access.SERVICES} == set(files)
    assert all(p.startswith("change-me-") for p in [*passwords.values(), admin["EPD_KAFKA_PASSWORD"]])
    for name in {"gateway", "portal", "migrate"}:
        assert not {"EPD_KAFKA_USERNAME", "EPD_KAFKA_PASSWORD"} & set(svcs[name]["environment"]), name


def test_no_private_key_is_committed_for_compose():
    tracked = subprocess.run(
        ["git", "ls-files", "deploy/compose"], cwd=REPO, capture_output=True, text=True, check=True
    )
    for path in tracked.stdout.split():
        assert "PRIVATE KEY" not in (REPO / path).read_text(errors="replace"), path
    assert "tls/" in (REPO / "deploy/compose/.gitignore").read_text().split()
