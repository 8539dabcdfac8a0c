"""The lag exporter (k8s/base/kafka-lag-exporter.yaml) publishes the series prometheus-adapter's rule and
the stream workers' HPAs name, and connects like the services: SCRAM-SHA-512 over verified TLS."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

IMAGE = "docker.io/danielqsj/kafka-exporter:v1.9.0"
# The consumer-group metrics of that release and their labels (its README, "Metrics: Consumer Groups";
# kafka_exporter.go's descriptors). Revisit when the image tag changes.
DOCUMENTED = {
    "kafka_consumergroup_current_offset": {"consumergroup", "topic", "partition"},
    "kafka_consumergroup_current_offset_sum": {"consumergroup", "topic"},
    "kafka_consumergroup_lag": {"consumergroup", "topic", "partition"},
    "kafka_consumergroup_lag_sum": {"consumergroup", "topic"},
    "kafka_consumergroup_members": {"consumergroup"},
}


def _base(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((REPO / "k8s" / "base" / name).read_text()) if d]


def _exporter() -> dict:
    (dep,) = [d for d in _base("kafka-lag-exporter.yaml") if d["kind"] == "Deployment"]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    return container


def test_the_image_is_the_pinned_release_the_metric_names_are_documented_for():
    assert _exporter()["image"] == IMAGE


def test_the_adapter_rule_selects_a_series_the_exporter_publishes_with_its_labels():
    (rule,) = yaml.safe_load((REPO / "deploy" / "prometheus" / "adapter.yaml").read_text())["externalRules"]
    series = re.fullmatch(r"(\w+)\{(.*)\}", rule["seriesQuery"])
    assert series, rule["seriesQuery"]
    name, matchers = series.group(1), series.group(2)
    assert name in DOCUMENTED and rule["name"]["matches"] == name
    assert set(re.findall(r"(\w+)\s*!?=~?", matchers)) <= DOCUMENTED[name]
    (by,) = re.findall(r"by \(([^)]*)\)", rule["metricsQuery"])
    assert {label.strip() for label in by.split(",")} <= DOCUMENTED[name]


def test_each_hpa_selects_the_exporters_labels():
    for service in ("ingest", "intensity"):
        (hpa,) = [d for d in _base(f"{service}.yaml") if d["kind"] == "HorizontalPodAutoscaler"]
        metric = hpa["spec"]["metrics"][0]["external"]["metric"]
        assert set(metric["selector"]["matchLabels"]) <= DOCUMENTED[metric["name"]], service


def test_it_connects_with_scram_sha_512_over_tls_verified_against_the_brokers_ca():
    container = _exporter()
    args = container["args"]
    flags = dict(a.removeprefix("--").partition("=")[::2] for a in args)
    assert flags["sasl.enabled"] in ("", "true") and flags["sasl.mechanism"] == "scram-sha512"
    assert flags["tls.enabled"] in ("", "true") and "tls.insecure-skip-tls-verify" not in flags
    assert flags["tls.ca-file"] == "$(EPD_KAFKA_CA_FILE)" and flags["sasl.password"] == "$(EPD_KAFKA_PASSWORD)"
    assert flags["offset.show-all"] == "true"  # groups without members too: a lag while every worker is down
    env = {e["name"]: e for e in container["env"]}
    assert env["EPD_KAFKA_USERNAME"]["value"] == "epd-kafka-lag-exporter"
    ref = env["EPD_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "epd-kafka-lag-exporter-secrets", "key": "EPD_KAFKA_PASSWORD"}
    assert not any("=" in a and a.partition("=")[2].startswith("change-me") for a in args)
