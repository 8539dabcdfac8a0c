"""k8s/ rendered with the pinned kustomize (deploy/k8s-tools.sh installs it into .run/bin), parsed;
the deploy tests read the manifests only through here. Nothing rendered is written to the repository."""

from __future__ import annotations

import copy
import functools
import subprocess

import yaml

from tests.conftest import REPO

OVERLAYS = ["local", "production"]
SERVICES = ["connector", "ingest", "intensity", "footprint", "publisher", "gateway", "portal"]
# Deployments of a third-party image (not this workspace's code: the pods test does not start them).
EXPORTERS = ["kafka-lag-exporter"]


@functools.cache
def kustomize() -> str:
    subprocess.run([str(REPO / "deploy" / "k8s-tools.sh")], check=True, timeout=900)
    return str(REPO / ".run" / "bin" / "kustomize")


@functools.cache
def _rendered(overlay: str) -> str:
    return subprocess.run(
        [kustomize(), "build", str(REPO / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def render(overlay: str) -> list[dict]:
    """Every object of the overlay (a fresh copy: callers may change it)."""
    return [copy.deepcopy(doc) for doc in yaml.safe_load_all(_rendered(overlay)) if doc]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def base_name(name: str, docs: list[dict]) -> str:
    """A generated ConfigMap's or Secret's name without kustomize's hash suffix (epd-config-5g2h... -> epd-config)."""
    generated = {d["metadata"]["name"] for d in docs if d["kind"] in ("ConfigMap", "Secret")}
    if name in generated and name.rsplit("-", 1)[0] and len(name.rsplit("-", 1)[-1]) == 10:
        return name.rsplit("-", 1)[0]
    return name


def workloads(docs: list[dict]) -> dict[str, dict]:
    """Deployments, StatefulSets and Jobs by name, with their pod spec under "pod". A StatefulSet's pod
    gets a persistentVolumeClaim volume per claim template, named as its controller names them
    (<template>-<set>-<ordinal>)."""
    out = {}
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            pod = copy.deepcopy(d["spec"]["template"]["spec"])
            for claim in d["spec"].get("volumeClaimTemplates", []):
                name = claim["metadata"]["name"]
                claim_name = f"{name}-{d['metadata']['name']}-0"
                pod.setdefault("volumes", []).append({"name": name, "persistentVolumeClaim": {"claimName": claim_name}})
            out[d["metadata"]["name"]] = {"object": d, "pod": pod}
    return out
