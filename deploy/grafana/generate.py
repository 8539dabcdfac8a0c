"""Writes the Grafana dashboards (deploy/grafana/dashboards/*.json) from the definitions in grafana_dashboards.py.

    python deploy/grafana/generate.py          # rewrite the JSON
    python deploy/grafana/generate.py --check  # exit 1 when the committed JSON is stale

Dashboards are code so that every query is reviewable and testable: tests/unit/deploy checks that the
committed JSON equals this output and that every metric name in a query is defined by a service.
Panel JSON follows Grafana's dashboard schema (schemaVersion 39); the datasource is the fixed uid
provisioned in provisioning/datasources/prometheus.yml.
"""

from __future__ import annotations

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "dashboards"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from grafana_dashboards import DASHBOARDS  # noqa: E402
from grafana_model import dashboard_json  # noqa: E402


def render() -> dict[str, str]:
    """File name -> JSON text, exactly as committed."""
    return {f"{d.uid}.json": json.dumps(dashboard_json(d), indent=2, sort_keys=True) + "\n" for d in DASHBOARDS}


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [n for n, text in files.items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
        for name in stale + extra:
            print(f"stale dashboard: {name} (run python deploy/grafana/generate.py)", file=sys.stderr)
        return 1 if stale or extra else 0
    OUT.mkdir(exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    for p in OUT.glob("*.json"):
        if p.name not in files:
            p.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
