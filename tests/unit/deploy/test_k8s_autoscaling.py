"""The stream workers' HorizontalPodAutoscalers scale on their consumer group's lag (an external metric
from Prometheus through prometheus-adapter), not on CPU: a worker waiting on the broker looks idle while
its backlog grows. The group and topic they name are the ones the services really consume."""

from __future__ import annotations

import yaml

from epd_common import topics
from epd_intensity.settings import IntensitySettings
from tests.conftest import REPO

SOURCES = {"ingest": topics.TELEMETRY_RAW, "intensity": topics.TELEMETRY_READINGS}


def _hpa(service: str) -> dict:
    docs = yaml.safe_load_all((REPO / "k8s" / "base" / f"{service}.yaml").read_text())
    return next(d for d in docs if d and d["kind"] == "HorizontalPodAutoscaler")


def _default(variable: str) -> str:
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.startswith(f"{variable}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{variable} is not in .env.example")


def test_stream_workers_scale_on_their_groups_lag_not_cpu():
    groups = {
        "ingest": _default("EPD_INGEST_CONSUMER_GROUP"),
        # faust's group id is the app id (default from the settings class)
        "intensity": IntensitySettings.model_fields["app_id"].default,
    }
    for service, topic in SOURCES.items():
        metrics = _hpa(service)["spec"]["metrics"]
        assert [m["type"] for m in metrics] == ["External"], f"{service}: scales on {metrics}"
        external = metrics[0]["external"]
        assert external["metric"]["name"] == "kafka_consumergroup_lag"
        assert external["metric"]["selector"]["matchLabels"] == {"consumergroup": groups[service], "topic": topic.name}
        assert external["target"]["type"] == "AverageValue" and int(external["target"]["averageValue"]) > 0


def test_prometheus_adapter_serves_the_lag_metric_the_hpas_name():
    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "adapter.yaml").read_text())["externalRules"]
    served = {r["name"]["as"]: r for r in rules}
    rule = served["kafka_consumergroup_lag"]
    assert "consumergroup" in rule["metricsQuery"] and "topic" in rule["metricsQuery"]
    assert rule["resources"] == {"namespaced": False}
