"""Who gets which secret, and who may talk to whom, in the rendered manifests of both overlays.

Each workload reads its own Secret, by key, and only the keys it needs (the pods test starts each
one with exactly these); each Kafka client is its own principal with its own password, and only the
provisioning Job holds the Kafka admin's (it reads the services' Kafka passwords, nothing else of their
Secrets, to set them on the cluster); the network policies let each pod reach DNS and exactly the dependencies it
uses (Kafka and PostgreSQL on the overlay's ports, plant sources, partner HTTPS), and let into it only
its public port (gateway, connector, portal), Prometheus on its metrics port and admin clients (and
the portal, which forwards operators' approvals) on the footprint admin API."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

import pytest
from k8s_netpol import OUTSIDE, Peer, allowed
from k8s_render import OVERLAYS, base_name, by_kind, render, workloads

from epd_common import kafka_access

# Secret keys each workload reads (env by secretKeyRef) and the Secrets it mounts as files.
SECRET_ENV = {
    "epd-connector": {"EPD_KAFKA_PASSWORD"},
    "epd-ingest": {"EPD_PG_DSN", "EPD_KAFKA_PASSWORD"},
    "epd-intensity": {"EPD_KAFKA_PASSWORD"},
    "epd-footprint": {"EPD_PG_DSN", "EPD_FOOTPRINT_ADMIN_TOKEN", "EPD_KAFKA_PASSWORD"},
    "epd-publisher": {"EPD_PG_DSN", "EPD_RECORDS_KEY_SECRET", "EPD_PUBLISHER_SECRET_KEY", "EPD_KAFKA_PASSWORD"},
    "epd-gateway": {"EPD_PG_DSN", "EPD_RECORDS_KEY_SECRET"},
    "epd-portal": {"EPD_PORTAL_PG_DSN", "EPD_RECORDS_KEY_SECRET"},
    "epd-migrate": {"EPD_PG_DSN"},
    "epd-kafka-provision": {"EPD_KAFKA_PASSWORD"},  # the Kafka admin's (epd-admin)
    "epd-kafka-lag-exporter": {"EPD_KAFKA_PASSWORD"},
}
# Workloads that read PostgreSQL (through EPD_PG_DSN, or the portal's read-only EPD_PORTAL_PG_DSN).
PG_CLIENTS = {name for name, keys in SECRET_ENV.items() if keys & {"EPD_PG_DSN", "EPD_PORTAL_PG_DSN"}}
SECRET_FILES = {"epd-connector": {"epd-connector-key", "epd-connector-push-credentials", "epd-connector-push-tls"}}
PRODUCTION_ONLY_FILES = {"epd-gateway": {"epd-gateway-tls"}}
# The services' Kafka principals (epd_common.kafka_access.SERVICES, the lag exporter's among them) are their
# workloads' names.
KAFKA_SERVICES = set(kafka_access.SERVICES)
KAFKA_CLIENTS = KAFKA_SERVICES | {"epd-kafka-provision"}
KAFKA_ADMIN = "epd-admin"
KAFKA_CA_FILE = "/etc/epd/kafka-ca/ca.pem"
# Ports a workload may reach beyond DNS, Kafka and PostgreSQL.
OTHER_EGRESS = {"epd-connector": {1883, 8883, 4840}, "epd-publisher": {443}}
PROMETHEUS = Peer(
    labels={"app.kubernetes.io/name": "prometheus"},
    namespace_labels={"kubernetes.io/metadata.name": "monitoring"},
    same_namespace=False,
)
DNS = Peer(
    labels={"k8s-app": "kube-dns"},
    namespace_labels={"kubernetes.io/metadata.name": "kube-system"},
    same_namespace=False,
)
ADMIN_CLIENT = Peer(labels={"epd-platform/admin-client": "true"})
SOME_POD = Peer(labels={"app.kubernetes.io/name": "something-else"})
# Container ports open to clients other than Prometheus: (workload, port name) -> who.
OPEN = {
    ("epd-gateway", "https"): "anyone",
    ("epd-connector", "http"): "anyone",
    ("epd-portal", "http"): "anyone",
    ("epd-footprint", "admin"): "admin",
}
PORTAL = Peer(labels={"app.kubernetes.io/name": "epd-portal"})


def projected_secrets(pod: dict) -> dict[str, set[str]]:
    """Secret keys mounted through projected volumes, by Secret (every item named: never a whole Secret)."""
    out: dict[str, set[str]] = {}
    for volume in pod.get("volumes", []):
        for source in (volume.get("projected") or {}).get("sources", []):
            if "secret" in source:
                assert source["secret"].get("items"), "a whole Secret in a projected volume"
                out.setdefault(source["secret"]["name"], set()).update(i["key"] for i in source["secret"]["items"])
    return out


def secret_use(pod: dict) -> tuple[dict[str, set[str]], set[str]]:
    """Secret keys read into the environment, by Secret; Secrets mounted as volumes."""
    env: dict[str, set[str]] = {}
    for container in pod["containers"]:
        assert not any("secretRef" in e for e in container.get("envFrom", [])), "a whole Secret in the environment"
        for var in container.get("env", []):
            ref = (var.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                assert ref["key"] == var["name"]
                env.setdefault(ref["name"], set()).add(ref["key"])
    files = {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    return env, files


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_workload_reads_only_its_own_secret_and_only_what_it_needs(overlay):
    docs = render(overlay)
    owners: dict[str, set[str]] = {}
    for name, workload in workloads(docs).items():
        env, files = secret_use(workload["pod"])
        assert {k for keys in env.values() for k in keys} == SECRET_ENV[name], name
        assert len(env) <= 1, f"{name} reads several Secrets: {sorted(env)}"
        expected_files = SECRET_FILES.get(name, set()) | (
            PRODUCTION_ONLY_FILES.get(name, set()) if overlay == "production" else set()
        )
        assert {base_name(f, docs) for f in files} == expected_files, name
        projected = {base_name(s, docs): keys for s, keys in projected_secrets(workload["pod"]).items()}
        if name == "epd-kafka-provision":  # each service's Kafka password, nothing else of its Secret
            assert projected == {f"{s}-secrets": {"EPD_KAFKA_PASSWORD"} for s in KAFKA_SERVICES}, projected
        else:
            assert not projected, name
        for secret in {base_name(s, docs) for s in [*env, *files]}:
            assert secret.startswith(name + "-"), f"{name} uses {secret}, named for another workload"
            owners.setdefault(secret, set()).add(name)
    assert all(len(users) == 1 for users in owners.values()), owners


def kafka_env(container: dict) -> dict[str, str | dict]:
    """The EPD_KAFKA_* variables a container sets itself: a value, or its valueFrom."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", []) if "KAFKA" in e["name"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_kafka_client_is_its_own_principal_over_sasl_ssl_with_its_own_password(overlay):
    docs = render(overlay)
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("epd-config"))
    assert config["data"]["EPD_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert not {"EPD_KAFKA_USERNAME", "EPD_KAFKA_PASSWORD"} & set(config["data"]), "credentials in the shared config"
    password_secrets: dict[str, str] = {}
    for name, workload in workloads(docs).items():
        (container,) = workload["pod"]["containers"]
        env = kafka_env(container)
        if name not in KAFKA_CLIENTS:
            assert not {"EPD_KAFKA_USERNAME", "EPD_KAFKA_PASSWORD", "EPD_KAFKA_CA_FILE"} & set(env), name
            continue
        assert env["EPD_KAFKA_USERNAME"] == (KAFKA_ADMIN if name == "epd-kafka-provision" else name), name
        assert env.get("EPD_KAFKA_SECURITY_PROTOCOL", "SASL_SSL") == "SASL_SSL", name
        ref = env["EPD_KAFKA_PASSWORD"]["secretKeyRef"]
        assert ref["key"] == "EPD_KAFKA_PASSWORD" and base_name(ref["name"], docs) == f"{name}-secrets", name
        password_secrets[name] = ref["name"]
        # The brokers' CA: a file of the ConfigMap epd-kafka-ca, mounted read-only where EPD_KAFKA_CA_FILE says.
        assert env["EPD_KAFKA_CA_FILE"] == KAFKA_CA_FILE, name
        mount = next(m for m in container["volumeMounts"] if KAFKA_CA_FILE.startswith(m["mountPath"] + "/"))
        assert mount.get("readOnly") is True, name
        volume = next(v for v in workload["pod"]["volumes"] if v["name"] == mount["name"])
        assert base_name(volume["configMap"]["name"], docs) == "epd-kafka-ca", name
        assert {i["path"] for i in volume["configMap"]["items"]} == {"ca.pem"}, name
    assert set(password_secrets) == KAFKA_CLIENTS
    assert len(set(password_secrets.values())) == len(password_secrets), f"a shared password Secret: {password_secrets}"


def test_the_local_overlay_ships_distinct_development_kafka_passwords_and_production_none():
    local = render("local")
    passwords = {
        base_name(n, local): base64.b64decode(s["data"]["EPD_KAFKA_PASSWORD"]).decode()
        for n, s in by_kind(local, "Secret").items()
        if "EPD_KAFKA_PASSWORD" in s["data"]
    }
    assert set(passwords) == {f"{w}-secrets" for w in KAFKA_CLIENTS}
    assert all(p.startswith("change-me-") and len(p) >= 16 for p in passwords.values()), passwords
    assert len(set(passwords.values())) == len(passwords), "two principals share a password"
    production = render("production")
    assert not by_kind(production, "Secret")
    assert "EPD_KAFKA_PASSWORD=" not in str(production) and "change-me-kafka" not in str(production)
    for name, workload in workloads(production).items():  # only by reference to a Secret made outside git
        for container in workload["pod"]["containers"]:
            for var in container.get("env", []):
                assert var["name"] != "EPD_KAFKA_PASSWORD" or "value" not in var, name


def test_the_local_overlay_generates_exactly_the_secrets_the_workloads_read():
    docs = render("local")
    generated = {base_name(n, docs): set(s["data"]) for n, s in by_kind(docs, "Secret").items()}
    read: dict[str, set[str]] = {}
    for workload in workloads(docs).values():
        env, _ = secret_use(workload["pod"])
        for secret, keys in env.items():
            read.setdefault(base_name(secret, docs), set()).update(keys)
    assert generated == read


def test_production_renders_no_secret_and_no_development_value():
    docs = render("production")
    assert not by_kind(docs, "Secret")
    assert "change-me" not in str(docs)
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("epd-config"))
    assert config["data"]["EPD_ENVIRONMENT"] == "production"
    assert config["data"]["EPD_KAFKA_REPLICATION_FACTOR"] == "3"
    assert config["data"]["EPD_KAFKA_MIN_INSYNC_REPLICAS"] == "2"


def dependency_ports(docs: list[dict]) -> tuple[int, int]:
    """The Kafka and PostgreSQL ports the overlay points at (production's DSN lives outside git: 5432)."""
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("epd-config"))
    kafka = int(config["data"]["EPD_KAFKA_BOOTSTRAP"].split(",")[0].rsplit(":", 1)[1])
    secrets = by_kind(docs, "Secret").values()
    dsns = [base64.b64decode(s["data"]["EPD_PG_DSN"]).decode() for s in secrets if "EPD_PG_DSN" in s["data"]]
    ports = {urlsplit(d).port or 5432 for d in dsns} or {5432}
    assert len(ports) == 1, ports
    return kafka, ports.pop()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_pod_reaches_dns_and_exactly_the_dependencies_it_uses(overlay):
    docs = render(overlay)
    policies = list(by_kind(docs, "NetworkPolicy").values())
    assert any(p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress", "Egress"] for p in policies)
    kafka, postgres = dependency_ports(docs)
    for name, workload in workloads(docs).items():
        labels = workload["object"]["spec"]["template"]["metadata"]["labels"]
        out = OUTSIDE  # Kafka, PostgreSQL, plants and partners are outside the namespace
        assert allowed(policies, labels, "Egress", DNS, 53), name
        assert allowed(policies, labels, "Egress", out, kafka) == (name in KAFKA_CLIENTS), (name, "kafka")
        assert allowed(policies, labels, "Egress", out, postgres) == (name in PG_CLIENTS), (name, "pg")
        for port in {443, 1883, 8883, 4840, 22, 6379, 8443}:
            assert allowed(policies, labels, "Egress", out, port) == (port in OTHER_EGRESS.get(name, set())), (
                name,
                port,
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_into_each_pod_only_its_public_port_metrics_for_prometheus_and_admin_for_admin_clients(overlay):
    docs = render(overlay)
    policies = list(by_kind(docs, "NetworkPolicy").values())
    services = by_kind(docs, "Service")
    for name, workload in workloads(docs).items():
        labels = workload["object"]["spec"]["template"]["metadata"]["labels"]
        ports = {p["name"]: p["containerPort"] for c in workload["pod"]["containers"] for p in c.get("ports", [])}
        for port_name, number in ports.items():
            who = OPEN.get((name, port_name), "prometheus" if port_name == "metrics" else "nobody")
            checks = {
                "anyone": who == "anyone",
                "outside": who == "anyone",
                "prometheus": who in ("anyone", "prometheus"),
                "admin": who in ("anyone", "admin"),
            }
            peers = {"anyone": SOME_POD, "outside": OUTSIDE, "prometheus": PROMETHEUS, "admin": ADMIN_CLIENT}
            for peer_name, expected in checks.items():
                got = allowed(policies, labels, "Ingress", peers[peer_name], number, named=ports)
                assert got == expected, (name, port_name, peer_name)
        if name in services:  # every Service port reaches a named container port of its pods
            for port in services[name]["spec"]["ports"]:
                assert port["targetPort"] in ports, (name, port)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_reaches_the_footprint_admin_api_and_no_other_pod_does(overlay):
    docs = render(overlay)
    policies = list(by_kind(docs, "NetworkPolicy").values())
    pods = workloads(docs)
    footprint = pods["epd-footprint"]["object"]["spec"]["template"]["metadata"]["labels"]
    portal = pods["epd-portal"]["object"]["spec"]["template"]["metadata"]["labels"]
    admin = {"admin": 8083}
    assert allowed(policies, footprint, "Ingress", PORTAL, 8083, named=admin)
    assert not allowed(policies, footprint, "Ingress", SOME_POD, 8083, named=admin)
    to_footprint = Peer(labels=footprint)
    assert allowed(policies, portal, "Egress", to_footprint, 8083)
    assert not allowed(policies, portal, "Egress", to_footprint, 9103)
