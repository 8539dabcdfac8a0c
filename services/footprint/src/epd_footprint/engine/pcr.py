"""Product category rules (PCR) as the engine checks them: a product system that breaks the rules of a
product's PCR is refused with the reason, before anything is computed or stored.

Checked: the declared unit (same quantity, e.g. 1 kg = 1000 g), the EN 15804 modules the PCR
requires (the engine computes A1, A2, A3 and A1-A3), the allocation method of every multi-output
process the product depends on, and the GWP set (by the IPCC report it follows). The cut-off rule
is carried with the PCR into every record but cannot be checked from a product system: a flow
left out is not in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .errors import ProductSystemError, Reason
from .model import AllocationMethod, ProductSystem
from .units import conversion_factor

COMPUTED_MODULES = ("A1", "A2", "A3", "A1-A3")


@dataclass(frozen=True)
class CategoryRule:
    pcr_id: str
    version: str
    declared_amount: Decimal
    declared_unit: str
    modules: tuple[str, ...]
    allocation_methods: frozenset[AllocationMethod]
    gwp_set: str  # e.g. "AR6"

    @property
    def label(self) -> str:
        return f"PCR {self.pcr_id} {self.version}"


def upstream_processes(system: ProductSystem, product: str) -> list[str]:
    """Processes the product depends on (its producers and, through product inputs, theirs), sorted."""
    producers: dict[str, list[str]] = {}
    for proc in system.processes.values():
        for o in proc.outputs:
            producers.setdefault(o.product, []).append(proc.id)
    seen: set[str] = set()
    todo = list(producers.get(product, ()))
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for x in system.processes[pid].inputs:
            if x.is_product:
                todo.extend(producers.get(x.ref, ()))
    return sorted(seen)


def check_pcr(system: ProductSystem, product: str, rule: CategoryRule) -> None:
    """Raise ProductSystemError (reason pcr_*) when `product` of `system` breaks `rule`."""
    where = f"product {product}"
    p = system.products.get(product)
    if p is None:
        raise ProductSystemError(Reason.UNKNOWN_REFERENCE, f"unknown product {product!r}", where)
    try:
        same = (
            p.declared_amount * Decimal(repr(conversion_factor(p.declared_unit, rule.declared_unit)))
            == rule.declared_amount
        )
    except ProductSystemError:
        same = False
    if not same:
        raise ProductSystemError(
            Reason.PCR_DECLARED_UNIT,
            f"declares {p.declared_amount} {p.declared_unit}; {rule.label} requires "
            f"{rule.declared_amount} {rule.declared_unit}",
            where,
        )
    missing = [m for m in rule.modules if m not in COMPUTED_MODULES]
    if missing:
        raise ProductSystemError(
            Reason.PCR_MODULES,
            f"{rule.label} requires module(s) {', '.join(missing)}, which the engine does not compute "
            f"(it computes {', '.join(COMPUTED_MODULES)})",
            where,
        )
    basis = system.gwp.basis or system.gwp.name
    if basis != rule.gwp_set:
        raise ProductSystemError(
            Reason.PCR_GWP_SET, f"the system characterises with {basis}; {rule.label} requires {rule.gwp_set}", where
        )
    for pid in upstream_processes(system, product):
        proc = system.processes[pid]
        method = proc.allocation.method
        if len(proc.outputs) > 1 and method not in rule.allocation_methods:
            allowed = ", ".join(sorted(m.value for m in rule.allocation_methods)) or "none"
            raise ProductSystemError(
                Reason.PCR_ALLOCATION,
                f"process {pid} uses {method.value} allocation; {rule.label} allows: {allowed}",
                where,
            )
