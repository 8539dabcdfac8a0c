"""In-memory live product systems: a stored system with its binding, solved, with the live
inventories of its telemetry-backed processes applied (pure; the service keeps one per system)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .binding import Binding, parse_binding
from .engine import LiveSystem, parse_system
from .engine.model import ProductSystem
from .windows import LiveInventory, live_process


@dataclass
class SystemState:
    system_id: str
    version: int
    system: ProductSystem  # as declared
    binding: Binding
    live: LiveSystem
    inventories: dict[str, LiveInventory]  # engine process -> overrides applied in memory
    plants: dict[str, str]  # engine process -> plant id
    producer: dict[str, str]  # engine product -> engine process
    consumers: dict[str, set[str]]  # engine product -> products made from it directly
    document: dict[str, Any] = field(default_factory=dict)  # as stored (its digest goes in audit snapshots)
    binding_doc: dict[str, Any] = field(default_factory=dict)


def build_state(
    system_id: str,
    version: int,
    document: dict[str, Any],
    binding_doc: dict[str, Any],
    plants: dict[str, str],
    inventories: dict[str, LiveInventory],
) -> SystemState:
    system = parse_system(document)
    binding = parse_binding(binding_doc, system)
    live = LiveSystem(system)
    applied: dict[str, LiveInventory] = {}
    for proc, inv in inventories.items():
        if proc in system.processes:
            live.replace_process(live_process(system.processes[proc], inv))
            applied[proc] = inv
    producer: dict[str, str] = {}
    consumers: dict[str, set[str]] = {}
    for p in system.processes.values():
        for o in p.outputs:
            producer.setdefault(o.product, p.id)
            for x in p.inputs:
                if x.is_product:
                    consumers.setdefault(x.ref, set()).add(o.product)
    proc_plants = {k: plants[b.process_id] for k, b in binding.processes.items() if b.process_id in plants}
    return SystemState(
        system_id, version, system, binding, live, applied, proc_plants, producer, consumers, document, binding_doc
    )


def closure(consumers: dict[str, set[str]], product: str) -> set[str]:
    """Products made, directly or not, from `product` (excluding itself unless in a loop)."""
    seen: set[str] = set()
    todo = list(consumers.get(product, ()))
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(consumers.get(p, ()))
    return seen
