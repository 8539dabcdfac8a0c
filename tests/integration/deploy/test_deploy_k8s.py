"""k8s/ renders with kustomize (pinned, installed into .run/bin by deploy/k8s-tools.sh) and every
rendered object validates against the Kubernetes JSON schemas of the kubernetes-validate package.
Offline after the first install; the rendered manifests are never written into the repository."""

from __future__ import annotations

import re
import subprocess

import kubernetes_validate
import pytest
import yaml
from k8s_render import EXPORTERS, OVERLAYS, SERVICES
from k8s_render import kustomize as install_kustomize
from k8s_render import render as render_overlay

from epd_common import topics
from tests.conftest import REPO

# What each stream worker consumes: its HPA may not outgrow the topic's partitions.
STREAM_SOURCES = {"epd-ingest": topics.TELEMETRY_RAW, "epd-intensity": topics.TELEMETRY_READINGS}
KUBERNETES_VERSION = "1.33.0"


@pytest.fixture(scope="module")
def kustomize() -> str:
    return install_kustomize()


def render(kustomize: str, overlay: str) -> list[dict]:
    return render_overlay(overlay)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_matches_the_kubernetes_schema(kustomize, overlay):
    docs = render(kustomize, overlay)
    assert len(docs) > 20
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_broken_object(kustomize):
    """The schema check is not vacuous: a misspelt field fails it."""
    deployment = next(d for d in render(kustomize, "local") if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["resourcez"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_are_hardened_probed_and_bounded(kustomize, overlay):
    docs = render(kustomize, overlay)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet")}
    assert set(deployments) == {f"epd-{s}" for s in SERVICES + EXPORTERS}
    accounts = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    configs = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["serviceAccountName"] in accounts and name in services, name
        for c in pod["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert c["readinessProbe"] and c["livenessProbe"], name
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and set(c["resources"]["limits"]), name
            refs = {e["configMapRef"]["name"] for e in c["envFrom"]}
            # kustomize suffixes generated names with a hash and rewrites references to match.
            assert any(r.startswith("epd-config-") and r in configs for r in refs), name
            # Secrets by name and key, one Secret per service (test_deploy_k8s_access.py): never whole.
            assert not any("secretRef" in e for e in c["envFrom"]), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_stream_worker_autoscaling_is_bounded_by_partitions(kustomize, overlay):
    docs = render(kustomize, overlay)
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    assert set(hpas) == set(STREAM_SOURCES)
    for target, hpa in hpas.items():
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= STREAM_SOURCES[target].partitions
        # on the consumer group's lag on the topic it consumes (an external metric), never on CPU
        metrics = hpa["spec"]["metrics"]
        assert [m["type"] for m in metrics] == ["External"], f"{target} scales on {metrics}"
        assert metrics[0]["external"]["metric"]["name"] == "kafka_consumergroup_lag"
        assert metrics[0]["external"]["metric"]["selector"]["matchLabels"]["topic"] == STREAM_SOURCES[target].name


def test_kafka_and_postgres_are_external_and_set_by_each_overlay(kustomize):
    for overlay in OVERLAYS:
        docs = render(kustomize, overlay)
        stateful = {d["metadata"]["name"] for d in docs if d["kind"] == "StatefulSet"}
        assert stateful == {"epd-connector"}, "Kafka/PostgreSQL are not deployed by k8s/"
        config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("epd-config"))
        assert config["data"]["EPD_KAFKA_BOOTSTRAP"]
    local = render(kustomize, "local")
    assert any(d["kind"] == "Secret" and "EPD_PG_DSN" in d["data"] for d in local)
    production = render(kustomize, "production")
    assert not any(d["kind"] == "Secret" for d in production), "production secrets are created outside git"
    gateway = next(d for d in production if d["kind"] == "Deployment" and d["metadata"]["name"] == "epd-gateway")
    assert gateway["spec"]["replicas"] >= 2
    assert any(d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == "epd-gateway" for d in production)


def test_only_kustomize_sources_are_committed_under_k8s():
    """Rendered manifests are never committed: every file is in base/ or an overlay and is listed
    by the kustomization beside it (as a resource, or as a file a generator reads)."""
    tracked = subprocess.run(["git", "ls-files", "k8s"], cwd=REPO, capture_output=True, text=True, check=True)
    for path in tracked.stdout.split():
        folder, name = (REPO / path).parent, (REPO / path).name
        assert folder.name == "base" or folder.parent.name == "overlays", path
        if name != "kustomization.yaml":
            kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
            generated = [
                f
                for kind in ("configMapGenerator", "secretGenerator")
                for generator in kustomization.get(kind, [])
                for f in generator.get("files", [])
            ]
            assert name in kustomization["resources"] + generated, path


@pytest.mark.parametrize(
    ("copy", "source"),
    [("plant.yaml", "services/connector/config/baotou-smelter.yaml"), ("processes.yaml", "deploy/demo/processes.yaml")],
)
def test_the_local_overlay_config_files_are_copies_of_their_sources(copy, source):
    """kustomize reads files only inside the kustomization's folder: the local overlay keeps copies."""
    assert (REPO / "k8s/overlays/local" / copy).read_text() == (REPO / source).read_text()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_connector_keeps_its_spool_on_a_retained_persistent_volume(kustomize, overlay):
    """A replaced connector pod finds its spool (unsent batches, its stream id): a StatefulSet whose
    spool is a claim kept when the set is deleted or scaled down, never an emptyDir."""
    docs = render(kustomize, overlay)
    (connector,) = [
        d
        for d in docs
        if d["metadata"]["name"] == "epd-connector"
        and d["kind"] != "Service"
        and d["kind"] not in ("ServiceAccount", "NetworkPolicy")
    ]
    assert connector["kind"] == "StatefulSet" and connector["spec"]["replicas"] == 1
    assert connector["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    (claim,) = connector["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    pod = connector["spec"]["template"]["spec"]
    assert claim["metadata"]["name"] not in {v["name"] for v in pod.get("volumes", [])}  # not an emptyDir
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["EPD_CONNECTOR_SPOOL_DIR"] == mounts[claim["metadata"]["name"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_lag_exporter_runs_non_root_on_the_port_prometheus_scrapes(kustomize, overlay):
    """The HPAs' metric source is in every overlay: non-root, its Service, container, listen address and
    scrape annotation on one port, and every $(VAR) of its flags defined (or Kubernetes passes it literally)."""
    docs = render(kustomize, overlay)
    (dep,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "epd-kafka-lag-exporter"]
    template = dep["spec"]["template"]
    pod = template["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    (port,) = container["ports"]
    (service,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == dep["metadata"]["name"]]
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"] == "metrics"
    assert int(annotations["prometheus.io/port"]) == service_port["port"] == port["containerPort"]
    flags = dict(arg.removeprefix("--").partition("=")[::2] for arg in container["args"])
    assert flags["web.listen-address"] == f":{port['containerPort']}" and flags["web.telemetry-path"] == "/metrics"
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("epd-config"))
    defined = set(config["data"]) | {e["name"] for e in container["env"]}
    referenced = {ref for arg in container["args"] for ref in re.findall(r"\$\((\w+)\)", arg)}
    assert referenced == {"EPD_KAFKA_BOOTSTRAP", "EPD_KAFKA_USERNAME", "EPD_KAFKA_PASSWORD", "EPD_KAFKA_CA_FILE"}
    assert referenced <= defined, referenced - defined
    assert "," not in config["data"]["EPD_KAFKA_BOOTSTRAP"], "--kafka.server takes one address per flag"
