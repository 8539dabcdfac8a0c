"""Per-product footprint reports, per declared unit, with Decimal values."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from .allocation import AllocationRecord
from .errors import ProductSystemError, Reason
from .matrices import CompiledSystem
from .numbers import to_decimal
from .solve import SystemResults
from .units import conversion_factor

INDICATORS = ("GWP-total", "GWP-fossil", "GWP-biogenic", "GWP-luluc")
MODULES = ("A1", "A2", "A3", "A1-A3")
_ZERO = 1e-15


@dataclass(frozen=True)
class ProductFootprint:
    product: str  # a product id, or "product@process" for one producer of a supply mix
    declared_amount: Decimal
    declared_unit: str
    gwp_set: str
    gwp: dict[str, dict[str, Decimal]]  # module -> indicator -> kg CO2e per declared unit
    scaling: dict[str, Decimal] = field(default_factory=dict)  # virtual process -> runs
    products: dict[str, tuple[Decimal, str]] = field(default_factory=dict)  # gross output per row
    background: dict[str, tuple[Decimal, str]] = field(default_factory=dict)
    emissions: dict[str, Decimal] = field(default_factory=dict)  # kg per gas key
    allocations: list[AllocationRecord] = field(default_factory=list)
    default_factors: list[str] = field(default_factory=list)  # background used whose factor is a default

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "declared_unit": {"amount": str(self.declared_amount), "unit": self.declared_unit},
            "gwp_set": self.gwp_set,
            "unit": "kg CO2e",
            "gwp": {m: {i: str(v) for i, v in ind.items()} for m, ind in self.gwp.items()},
            "scaling": {k: str(v) for k, v in self.scaling.items()},
            "products": {k: {"amount": str(a), "unit": u} for k, (a, u) in self.products.items()},
            "background": {k: {"amount": str(a), "unit": u} for k, (a, u) in self.background.items()},
            "emissions": {k: {"amount": str(v), "unit": "kg"} for k, v in self.emissions.items()},
            "allocations": [a.as_dict() for a in self.allocations],
            "default_factors": list(self.default_factors),
        }


def declared_factor(cs: CompiledSystem, row: int) -> float:
    product = cs.system.products[cs.row_product[row]]
    return float(product.declared_amount) * conversion_factor(
        product.declared_unit, product.unit, f"product {product.id}"
    )


def gwp_table(res: SystemResults, row: int) -> dict[str, dict[str, Decimal]]:
    q = declared_factor(res.compiled, row)
    total = res.impacts[row] * q
    a2, a3 = res.a2[row] * q, res.a3[row] * q
    table = {"A1": total - a2 - a3, "A2": a2, "A3": a3, "A1-A3": total}
    return {
        m: dict(zip(INDICATORS, (to_decimal(v.sum()), *(to_decimal(x) for x in v)), strict=True))
        for m, v in table.items()
    }


def footprint(res: SystemResults, product: str, detail: bool = True) -> ProductFootprint:
    """The footprint of one row per declared unit; `detail` adds scaling, inventories, gases."""
    cs = res.compiled
    row = cs.row_index.get(product)
    if row is None:
        raise ProductSystemError(Reason.UNKNOWN_REFERENCE, f"unknown product {product!r}")
    p = cs.system.products[cs.row_product[row]]
    fp = ProductFootprint(product, p.declared_amount, p.declared_unit, cs.system.gwp.name, gwp_table(res, row))
    if not detail:
        return fp
    q = declared_factor(cs, row)
    s = res.scaling(row, q)
    if s.min() < -1e-9 * max(1.0, np.abs(s).max()):
        raise ProductSystemError(Reason.NEGATIVE_NET_OUTPUT, f"negative scaling for {product!r}")
    gross = cs.A.diagonal() * s
    used = np.flatnonzero(np.abs(s) > _ZERO)
    fp.scaling.update({cs.columns[i]: to_decimal(s[i]) for i in used})
    fp.products.update({cs.rows[i]: (to_decimal(gross[i]), cs.row_unit[i]) for i in used})
    flows = res.X[row] * q
    for i in np.flatnonzero(np.abs(flows[: cs.n_background]) > _ZERO):
        fp.background[cs.flows[i]] = (to_decimal(flows[i]), cs.flow_unit[i])
        if cs.system.background[cs.flows[i]].default:
            fp.default_factors.append(cs.flows[i])
    gases = cs.G @ flows
    fp.emissions.update({cs.gas_keys[i]: to_decimal(gases[i]) for i in np.flatnonzero(np.abs(gases) > _ZERO)})
    used_processes = {c.split("[", 1)[0] for c in fp.scaling}
    fp.allocations.extend(rec for pid, rec in cs.allocations.items() if pid in used_processes)
    return fp
