"""What a page shows, from what the repository read: pure functions, no I/O.

Who sees which version is `epd_records.status.served_status`: the public is `PUBLIC` (published
versions and what was published before, withdrawn ones marked), operators are a viewer that accepts
provisional versions. Drift events and changes are shown only for versions the viewer sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from epd_portal.repository import Record, Version
from epd_records.status import PUBLIC, Viewer, served_status, status_name, was_published
from epd_records.values import INDICATOR_NAMES, MODULE_NAMES

OPERATOR = Viewer(accepts_provisional=True)
MODULES = ("A1", "A2", "A3")
ORIGINS = ("GWP-fossil", "GWP-biogenic", "GWP-luluc")


def viewer(operator: bool) -> Viewer:
    return OPERATOR if operator else PUBLIC


def results(version: Version) -> dict[tuple[str, str], Decimal]:
    """(module, indicator) -> value, as stored (kg CO2e per declared unit)."""
    return {
        (MODULE_NAMES[r.module], INDICATOR_NAMES[r.indicator]): Decimal(r.value)
        for r in version.fv.results
        if r.module in MODULE_NAMES and r.indicator in INDICATOR_NAMES
    }


def gwp(version: Version) -> Decimal | None:
    return results(version).get(("A1-A3", "GWP-total"))


def _time(version: Version, name: str) -> datetime | None:
    return getattr(version.fv, name).ToDatetime(tzinfo=UTC) if version.fv.HasField(name) else None


@dataclass
class VersionRow:
    version: Version
    status: str  # epd_records status name: published, provisional, withdrawn, ...
    served: str  # Active / Deprecated for this viewer
    cause: str  # key of labels.CAUSE
    created_at: datetime | None
    valid_from: datetime | None
    valid_until: datetime | None
    gwp: Decimal | None
    changes: list[Record] = field(default_factory=list)
    drift: list[Record] = field(default_factory=list)

    @property
    def pf_id(self) -> uuid.UUID:
        return self.version.pf_id

    @property
    def number(self) -> int:
        return self.version.fv.version

    @property
    def withdrawn(self) -> bool:
        return self.status == "withdrawn"

    @property
    def public(self) -> bool:
        return served_status(self.version.fv, PUBLIC) is not None

    def approved_at(self) -> datetime | None:
        """When a verifier approved it (a version created provisional, then published)."""
        kinds = [c["change_type"] for c in self.changes]
        if "created" in kinds and "published" in kinds:
            return next(c["created_at"] for c in self.changes if c["change_type"] == "published")
        return None


def _cause(version: Version, drift: Sequence[Record]) -> str:
    if drift:
        return "cascade" if drift[0]["cause"] == "cascade" else "drift"
    return "import" if version.fv.version == 1 else "other"


def version_rows(
    versions: Iterable[Version], who: Viewer, changes: Iterable[Record], drift: Iterable[Record]
) -> list[VersionRow]:
    """The versions this viewer sees, oldest first, each with its changes and drift events."""
    by_pf: dict[uuid.UUID, list[Record]] = {}
    for c in changes:
        by_pf.setdefault(c["pf_id"], []).append(c)
    drift_by_pf: dict[uuid.UUID, list[Record]] = {}
    for d in drift:
        if d["pf_id"] is not None:
            drift_by_pf.setdefault(d["pf_id"], []).append(d)
    rows = []
    for v in versions:
        served = served_status(v.fv, who)
        if served is None:
            continue
        rows.append(
            VersionRow(
                v,
                status_name(v.fv.status),
                served.value,
                _cause(v, drift_by_pf.get(v.pf_id, [])),
                _time(v, "created_at"),
                _time(v, "valid_from"),
                _time(v, "valid_until"),
                gwp(v),
                by_pf.get(v.pf_id, []),
                drift_by_pf.get(v.pf_id, []),
            )
        )
    return rows


def current(rows: Sequence[VersionRow]) -> VersionRow | None:
    """The current certified version: the published one, else the latest the public saw."""
    published = [r for r in rows if r.status == "published"]
    if published:
        return published[-1]
    public = [r for r in rows if r.public and was_published(r.version.fv)]
    return public[-1] if public else None


def pending(rows: Sequence[VersionRow]) -> list[VersionRow]:
    return [r for r in rows if r.status == "provisional"]


def module_table(version: Version) -> list[tuple[str, dict[str, Decimal | None]]]:
    """Rows A1, A2, A3, A1-A3 -> indicator -> value (None where not declared)."""
    table = results(version)
    return [
        (m, {i: table.get((m, i)) for i in ("GWP-total", *ORIGINS)})
        for m in (*MODULES, "A1-A3")
        if any((m, i) in table for i in ("GWP-total", *ORIGINS))
    ]


@dataclass(frozen=True)
class ChainLink:
    product_id: str
    product_name: str
    amount: str
    unit: str
    series: list[Record]  # plant_id, status, gwp, declared_unit of each certified series


def upstream(product_id: str, documents: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(input product, amount, unit) that the processes making `product_id` take, over every product
    system (the value chain the footprint service certifies with; format epd-product-system/1)."""
    found: dict[str, tuple[str, str, str]] = {}
    for doc in documents:
        for process in doc.get("processes") or ():
            outputs = {o.get("product") for o in process.get("outputs") or () if isinstance(o, Mapping)}
            if product_id not in outputs:
                continue
            for i in process.get("inputs") or ():
                if isinstance(i, Mapping) and i.get("product") and i["product"] != product_id:
                    found.setdefault(i["product"], (i["product"], str(i.get("amount", "")), str(i.get("unit", ""))))
    return sorted(found.values())


def chain(inputs: Sequence[tuple[str, str, str]], links: Iterable[Record]) -> list[ChainLink]:
    by_product: dict[str, list[Record]] = {}
    names: dict[str, str] = {}
    for r in links:
        names[r["product_id"]] = r["product_name"]
        if r["plant_id"] is not None and r["status"] is not None:
            by_product.setdefault(r["product_id"], []).append(r)
    return [ChainLink(pid, names.get(pid, pid), amount, unit, by_product.get(pid, [])) for pid, amount, unit in inputs]


def percentile_ranks(values: Sequence[Decimal]) -> list[Decimal]:
    """Share of the category at or below each value (values sorted ascending), in percent."""
    n = len(values)
    out, i = [], 0
    while i < n:
        j = i
        while j + 1 < n and values[j + 1] == values[i]:
            j += 1
        out.extend([Decimal(100 * (j + 1)) / n] * (j - i + 1))
        i = j + 1
    return out
