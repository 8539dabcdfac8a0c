"""Reproduce a version from its audit snapshot and the inputs stored in PostgreSQL (pure).

Given the snapshot, the product-system document and binding and the window totals as they are
stored now, and the published results: every input is checked against the digest the snapshot
recorded (a difference is named field by field against the snapshot's copies), the live inventories
are folded again from the stored windows, the results are computed with snapshot.canonical_results
and compared, value by value, with the published ones. Any difference fails the reproduction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .binding import BindingError, parse_binding
from .engine import ENGINE_VERSION, INDICATORS, MODULES, ProductSystemError, gwp_table, parse_system
from .snapshot import (
    FORMAT,
    background_json,
    canonical_results,
    inventory_json,
    sha256_json,
    window_facts,
)
from .windows import LiveInventory, WindowError, fold

Key = tuple[str, int]


@dataclass(frozen=True)
class ResultRow:
    module: str
    indicator: str
    published: Decimal | None
    reproduced: Decimal | None

    @property
    def equal(self) -> bool:
        return self.published is not None and self.reproduced is not None and self.published == self.reproduced


@dataclass
class Reproduction:
    pf_id: str
    rows: list[ResultRow] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # what makes the reproduction fail
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and bool(self.rows) and all(r.equal for r in self.rows)

    def as_json(self) -> dict[str, Any]:
        return {
            "pf_id": self.pf_id,
            "reproduced": self.ok,
            "results": [
                {
                    "module": r.module,
                    "indicator": r.indicator,
                    "published": None if r.published is None else str(r.published),
                    "reproduced": None if r.reproduced is None else str(r.reproduced),
                    "equal": r.equal,
                }
                for r in self.rows
            ],
            "differences": self.differences,
            "notes": self.notes,
        }


def _diff_maps(what: str, then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(then) | set(now)):
        if then.get(key) != now.get(key):
            out.append(
                f"{what} {key}: {then.get(key, 'absent')} when the version was made, {now.get(key, 'absent')} now"
            )
    return out


def _system_differences(snapshot: dict[str, Any], document: Any, binding: Any) -> list[str]:
    ref = snapshot["system"]
    name = f"product system {ref['system_id']} version {ref['version']}"
    out = []
    if sha256_json(document) != ref["document_sha256"]:
        out.append(f"{name}: the stored document changed since the version was made (SHA-256 differs)")
        try:
            system = parse_system(document)
            then = {k: v["emissions"] for k, v in snapshot["background"].items()}
            now = {k: v["emissions"] for k, v in background_json(system).items()}
            out += _diff_maps("background factor", then, now)
            out += _diff_maps("GWP factor", snapshot["gwp_set"]["factors"], system.gwp.as_json()["factors"])
        except ProductSystemError as exc:
            out.append(f"{name}: the stored document no longer parses: {exc}")
    if sha256_json(binding) != ref["binding_sha256"]:
        out.append(f"{name}: the stored binding changed since the version was made (SHA-256 differs)")
    return out


def _window_differences(entry: dict[str, Any], stored: dict[str, Any] | None) -> list[str]:
    name = f"window {entry['window_id']} revision {entry['revision']}"
    if entry.get("totals") is None:
        return [f"{name}: its totals were not stored when the version was made"]
    if stored is None:
        return [f"{name}: no stored totals (footprint_window_totals)"]
    if sha256_json(stored) == entry["sha256"]:
        return []
    then, now = entry["totals"], stored
    out = [f"{name}: the stored totals changed since the version was made (SHA-256 differs)"]
    out += _diff_maps(
        f"{name} activity",
        {k: " ".join(v) for k, v in then["activities"].items()},
        {k: " ".join(v) for k, v in now["activities"].items()},
    )
    out += _diff_maps(f"{name} output (kg)", then["outputs"], now["outputs"])
    for k in ("process_id", "start", "end", "merkle_root"):
        if then[k] != now[k]:
            out.append(f"{name} {k}: {then[k]} when the version was made, {now[k]} now")
    return out


def reproduce(
    pf_id: str,
    snapshot: dict[str, Any],
    document: Any,
    binding_doc: Any,
    windows: dict[Key, dict[str, Any] | None],
    published: dict[tuple[str, str], Decimal],
) -> Reproduction:
    """`windows`: the stored totals (snapshot.window_json form) of every window the snapshot names."""
    rep = Reproduction(pf_id)
    if snapshot.get("format") != FORMAT:
        rep.differences.append(f"not a {FORMAT} snapshot")
        return rep
    if snapshot["engine_version"] != ENGINE_VERSION:
        rep.notes.append(f"made by engine version {snapshot['engine_version']}, reproduced by {ENGINE_VERSION}")
    rep.differences += _system_differences(snapshot, document, binding_doc)
    for entry in snapshot["windows"]:
        rep.differences += _window_differences(entry, windows.get((entry["window_id"], entry["revision"])))
    for (module, indicator), value in sorted(published.items()):
        then = snapshot["results"].get(module, {}).get(indicator)
        if then is not None and Decimal(then) != value:
            rep.differences.append(f"published {module} {indicator} {value} differs from the snapshot's {then}")
    reproduced = _recompute(snapshot, document, binding_doc, windows, rep)
    for module in MODULES:
        for indicator in INDICATORS:
            rep.rows.append(
                ResultRow(
                    module,
                    indicator,
                    published.get((module, indicator)),
                    reproduced.get(module, {}).get(indicator) if reproduced else None,
                )
            )
    return rep


def _recompute(
    snapshot: dict[str, Any],
    document: Any,
    binding_doc: Any,
    windows: dict[Key, dict[str, Any] | None],
    rep: Reproduction,
) -> dict[str, dict[str, Decimal]] | None:
    try:
        system = parse_system(document)
        binding = parse_binding(binding_doc, system)
        inventories: dict[str, LiveInventory] = {}
        for entry in snapshot["windows"]:
            stored = windows.get((entry["window_id"], entry["revision"]))
            if stored is None:
                rep.differences.append("cannot recompute without the totals of every window")
                return None
            process = entry["engine_process"]
            declared = system.processes[process]
            pb = binding.processes[process]
            inv = fold(declared, pb, binding.registry_product(declared.outputs[0].product), window_facts(stored))
            inventories[process] = inv
            then = snapshot["inventories"].get(process)
            if then is not None and then != inventory_json(inv):
                rep.differences += _diff_maps(
                    f"live inventory of {process} (per run)",
                    {**then["inputs"], **then["emissions"]},
                    {**inventory_json(inv)["inputs"], **inventory_json(inv)["emissions"]},
                )
        results = canonical_results(system, inventories)
        row = results.compiled.row_index[snapshot["product"]["engine"]]
    except (ProductSystemError, BindingError, WindowError, KeyError) as exc:
        rep.differences.append(f"cannot recompute: {exc}")
        return None
    if results.digits != snapshot["solve"]["significant_digits"]:
        rep.notes.append(
            f"the solve supports {results.digits} digits now, {snapshot['solve']['significant_digits']} then"
        )
    return gwp_table(results, row)
