"""The dashboard model and its Grafana JSON (schemaVersion 39); the definitions are in grafana_dashboards.py."""

from __future__ import annotations

from dataclasses import dataclass, field

DATASOURCE = {"type": "prometheus", "uid": "epd-prometheus"}
SERVICES = "connector|ingest|intensity|footprint|publisher|gateway|portal"
R = "$__rate_interval"


@dataclass(frozen=True)
class Q:
    expr: str
    legend: str = ""
    # True when the series only exists after the first incident (a labelled counter nobody has
    # incremented yet): an empty answer then means "nothing went wrong", not a broken query.
    incident: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Q, ...]
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    width: int = 12


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...] = field(default_factory=tuple)


def rate(metric: str, by: str = "", selector: str = "") -> str:
    group = f" by ({by})" if by else ""
    return f"sum{group} (rate({metric}{selector}[{R}]))"


def quantile(q: float, histogram: str, by: str = "") -> str:
    extra = f", {by}" if by else ""
    return f"histogram_quantile({q}, sum by (le{extra}) (rate({histogram}_bucket[{R}])))"


def panel_json(panel: Panel, pid: int, x: int, y: int) -> dict:
    targets = [
        {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "expr": q.expr,
            "legendFormat": q.legend or "__auto",
            "range": True,
        }
        for i, q in enumerate(panel.queries)
    ]
    out = {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
    }
    if panel.kind == "stat":
        out["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
        }
    else:
        out["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    return out


def dashboard_json(d: Dashboard) -> dict:
    panels, pid, y = [], 1, 0
    for row in d.rows:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid, y, x = pid + 1, y + 1, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(panel_json(panel, pid, x, y))
            pid, x = pid + 1, x + panel.width
        y += 8
    return {
        "uid": d.uid,
        "title": d.title,
        "description": d.description,
        "tags": ["epd"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "templating": {"list": []},
        "panels": panels,
    }
