"""Audit snapshots (pure): what a version is reproduced from, and the one computation of its results.

When the drift rule makes a version, its results do not come from the incrementally updated live
system (whose last digits depend on the order windows arrived in) but from `canonical_results`: the
declared product system with every live inventory applied, compiled and solved afresh. `epd audit
reproduce` runs the same function on the same inputs read back from PostgreSQL, so a version
reproduces exactly under the same engine version.

The snapshot (format epd-audit-snapshot/1, documented in services/footprint/README.md) names those
inputs by SHA-256 of their RFC 8785 JSON (the product-system document and binding, each window's
totals) and carries small copies of what reproduce compares them with, so a difference can be
named: the background factors and GWP set, the per-run live inventories, the window totals, the
solve's conditioning, and the results. Its own digest is stored with the version and carried in the
signed record (FootprintVersion.audit_snapshot).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any

from epd_records.signing import content_sha256

from .binding import Binding
from .engine import ENGINE_VERSION, ProductSystem, SystemResults, compile_system, gwp_table, solve_system
from .engine.matrices import gas_key
from .windows import LiveInventory, WindowFacts, live_process

FORMAT = "epd-audit-snapshot/1"
Totals = dict[tuple[str, int], WindowFacts]


def sha256_json(value: Any) -> str:
    """The content address of a JSON value: SHA-256 of its RFC 8785 canonical form."""
    return content_sha256(value)


def window_json(facts: WindowFacts) -> dict[str, Any]:
    """A window's totals as stored (footprint_window_totals) and as the snapshot carries them."""
    return {
        "window_id": facts.window_id,
        "revision": facts.revision,
        "process_id": facts.process_id,
        "plant_id": facts.plant_id,
        "size": facts.size,
        "start": facts.start.isoformat(),
        "end": facts.end.isoformat(),
        "merkle_root": facts.merkle_root,
        "activities": {code: [str(q), unit] for code, (q, unit) in sorted(facts.activities.items())},
        "outputs": {product: str(q) for product, q in sorted(facts.outputs.items())},
    }


def window_facts(doc: dict[str, Any]) -> WindowFacts:
    return WindowFacts(
        doc["window_id"],
        int(doc["revision"]),
        doc["process_id"],
        doc["plant_id"],
        doc["size"],
        datetime.fromisoformat(doc["start"]),
        datetime.fromisoformat(doc["end"]),
        doc["merkle_root"],
        {code: (Decimal(q), unit) for code, (q, unit) in doc["activities"].items()},
        {product: Decimal(q) for product, q in doc["outputs"].items()},
    )


def inventory_json(inv: LiveInventory) -> dict[str, Any]:
    return {"window_id": inv.window_id, "revision": inv.revision, **inv.as_json()}


def canonical_results(system: ProductSystem, inventories: dict[str, LiveInventory]) -> SystemResults:
    """The declared system with every live inventory applied, solved afresh (deterministic)."""
    processes = dict(system.processes)
    for process_id in sorted(inventories):
        if process_id in processes:
            processes[process_id] = live_process(system.processes[process_id], inventories[process_id])
    return solve_system(compile_system(dataclasses.replace(system, processes=processes)))


def background_json(system: ProductSystem) -> dict[str, Any]:
    return {
        b.id: {"unit": b.unit, "emissions": {gas_key(f.gas, f.origin): str(f.amount) for f in b.emissions}}
        for b in system.background.values()
    }


def results_json(table: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, str]]:
    return {m: {i: str(v) for i, v in row.items()} for m, row in table.items()}


def evidence_of(inventories: dict[str, LiveInventory], processes: list[str]) -> list[dict[str, Any]]:
    """Evidence links of the live inventories of `processes`: the windows the numbers are made of."""
    return [
        {
            "window_id": inv.window_id,
            "revision": inv.revision,
            "merkle_root": inv.merkle_root,
            "window_start": inv.start.isoformat(),
            "window_end": inv.end.isoformat(),
        }
        for p, inv in sorted(inventories.items())
        if p in processes
    ]


@dataclasses.dataclass(frozen=True)
class SystemRef:
    system_id: str
    version: int
    document: dict[str, Any]
    binding: dict[str, Any]


def build_snapshot(
    ref: SystemRef,
    system: ProductSystem,
    binding: Binding,
    inventories: dict[str, LiveInventory],
    totals: Totals,
    product: str,
    results: SystemResults,
) -> dict[str, Any]:
    """The snapshot of one version of `product` (engine id) computed as `results` (canonical_results)."""
    windows = []
    for process_id, inv in sorted(inventories.items()):
        facts = totals.get((inv.window_id, inv.revision))
        doc = window_json(facts) if facts is not None else None
        windows.append(
            {"engine_process": process_id, "window_id": inv.window_id, "revision": inv.revision, "totals": doc}
            | ({"sha256": sha256_json(doc)} if doc is not None else {})
        )
    return {
        "format": FORMAT,
        "engine_version": ENGINE_VERSION,
        "product": {"engine": product, "registry": binding.registry_product(product)},
        "system": {
            "system_id": ref.system_id,
            "version": ref.version,
            "document_sha256": sha256_json(ref.document),
            "binding_sha256": sha256_json(ref.binding),
        },
        "factor_set_version": binding.factor_set_version,
        "gwp_set": {**system.gwp.as_json(), "sha256": sha256_json(system.gwp.as_json())},
        "background": background_json(system),
        "inventories": {p: inventory_json(inv) for p, inv in sorted(inventories.items())},
        "windows": windows,
        "solve": {"condition_estimate": f"{results.condition:.6g}", "significant_digits": results.digits},
        "results": results_json(gwp_table(results, results.compiled.row_index[product])),
    }
