"""Every dashboard panel query and every recording-rule expression, and a check of which return no data.

The end-to-end run calls `queries_without_data(prometheus_url)` against the real Prometheus scraping
the running services; `python deploy/grafana/queries.py http://127.0.0.1:19090` does the same by hand.
Standard library only, so it runs from any environment.
"""

from __future__ import annotations

import json
import pathlib
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass

HERE = pathlib.Path(__file__).resolve().parent
RULES = HERE.parent / "prometheus" / "rules"

# Grafana's $__rate_interval is at least four scrape intervals; locally (5 s scrapes) 1m is safe.
RATE_INTERVAL = "1m"


@dataclass(frozen=True)
class Query:
    source: str  # "dashboard <uid> / <panel title>" or "recording rule <name>"
    expr: str
    incident: bool = False  # no series until the first incident (see grafana_model.Q)

    def promql(self) -> str:
        return self.expr.replace("$__rate_interval", RATE_INTERVAL)


def panel_queries() -> list[Query]:
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from grafana_dashboards import DASHBOARDS

    return [
        Query(f"dashboard {d.uid} / {p.title}", q.expr, q.incident)
        for d in DASHBOARDS
        for row in d.rows
        for p in row.panels
        for q in p.queries
    ]


def recording_rule_queries() -> list[Query]:
    import yaml  # PyYAML: in the dev group and in every service image

    out = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            out += [Query(f"recording rule {r['record']}", r["expr"].strip()) for r in group["rules"] if "record" in r]
    return out


def all_queries() -> list[Query]:
    return panel_queries() + recording_rule_queries()


def instant_query(prometheus_url: str, promql: str, timeout: float = 10.0) -> list[dict]:
    url = f"{prometheus_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"{promql}: {body.get('error')}")
    return body["data"]["result"]


def queries_without_data(
    prometheus_url: str, queries: list[Query] | None = None, *, include_incidents: bool = True
) -> list[Query]:
    """The queries whose instant evaluation returns no series (a query error raises).

    With include_incidents=False, queries on labelled counters that only exist after a first
    incident are not required to return data."""
    checked = [q for q in (all_queries() if queries is None else queries) if include_incidents or not q.incident]
    return [q for q in checked if not instant_query(prometheus_url, q.promql())]


def main(argv: list[str]) -> int:
    url = argv[0] if argv else "http://127.0.0.1:19090"
    empty = queries_without_data(url, include_incidents="--all" in argv)
    for q in empty:
        print(f"no data: {q.source}: {q.expr}")
    print(f"{len(empty)} queries without data (incident-only queries {'checked' if '--all' in argv else 'skipped'})")
    return 1 if empty else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
