"""Every metric name the alert/recording rules and the dashboards use is defined by a service.

Scans the service sources for the name strings (prometheus_client definitions), so a renamed or
removed metric fails here instead of leaving a silent empty panel or an alert that can never fire."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO

NAME = re.compile(r"(?<![\w:])epd_[a-z0-9_]+")
DEFINED = re.compile(r"""["'](epd_[a-z0-9_]+)["']""")
# Series a histogram or counter exports beside its declared name.
SUFFIXES = ("_bucket", "_count", "_sum", "_created", "_total")


def referenced() -> dict[str, set[str]]:
    """Metric name -> files that use it (rules, rule tests, dashboards)."""
    files = [
        *(REPO / "deploy/prometheus/rules").glob("*.yml"),
        *(REPO / "deploy/prometheus/tests").glob("*.yml"),
        *(REPO / "deploy/grafana/dashboards").glob("*.json"),
    ]
    out: dict[str, set[str]] = {}
    for path in files:
        text = path.read_text()
        if path.suffix == ".json":  # only the queries, not titles or descriptions
            text = "\n".join(t["expr"] for p in json.loads(text)["panels"] for t in p.get("targets", []))
        for name in NAME.findall(text):
            out.setdefault(name, set()).add(path.relative_to(REPO).as_posix())
    return out


def defined() -> set[str]:
    names = set()
    for path in (REPO / "services").rglob("*.py"):
        if "/epd/v1/" in path.as_posix() or "/tests/" in path.as_posix():
            continue
        names.update(DEFINED.findall(path.read_text()))
    return names


def is_defined(name: str, names: set[str]) -> bool:
    if name in names:
        return True
    for suffix in SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and (base in names or f"{base}_total" in names):
            return True
    # prometheus_client accepts a counter declared without _total and adds it on export.
    return name.endswith("_total") and name.removesuffix("_total") in names


def test_every_metric_in_rules_and_dashboards_is_defined_by_a_service():
    names = defined()
    missing = {n: sorted(files) for n, files in referenced().items() if not is_defined(n, names)}
    assert not missing, f"metrics used but defined by no service: {missing}"


def test_the_scan_finds_both_sides():
    """Guards the test above against passing vacuously (a broken regex finds nothing to compare)."""
    refs, names = referenced(), defined()
    assert len(refs) >= 10 and len(names) >= 10
    assert is_defined("epd_publisher_publication_freshness_seconds_bucket", names)
    assert not is_defined("epd_publisher_no_such_metric_total", names)
