"""Per-product footprint reports, per declared unit, with Decimal values rounded to the digits the solve supports."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from .allocation import AllocationRecord
from .errors import ProductSystemError, Reason
from .matrices import CompiledSystem
from .model import Origin
from .numbers import decimal_text, to_decimal
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
    digits: int = 12  # significant digits the solve supports (every value is rounded to them)
    condition: float = 1.0  # condition estimate of the scaled technosphere matrix
    warnings: tuple[str, ...] = ()
    scaling: dict[str, Decimal] = field(default_factory=dict)  # virtual process -> runs
    # Every intermediate product: (gross output, net output, unit). Gross counts what the processes
    # make; net subtracts what they use of their own product (a kiln that burns its own char).
    outputs: dict[str, tuple[Decimal, Decimal, str]] = field(default_factory=dict)
    background: dict[str, tuple[Decimal, str]] = field(default_factory=dict)
    emissions: dict[str, Decimal] = field(default_factory=dict)  # kg per gas key
    allocations: list[AllocationRecord] = field(default_factory=list)
    default_factors: list[str] = field(default_factory=list)  # background used whose factor is a default
    unchecked_gwp: list[str] = field(default_factory=list)  # GWP values used that are not checked references

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every number as fixed-point decimal text (no exponent)."""
        return {
            "product": self.product,
            "declared_unit": {"amount": decimal_text(self.declared_amount), "unit": self.declared_unit},
            "gwp_set": self.gwp_set,
            "unit": "kg CO2e",
            "gwp": {m: {i: decimal_text(v) for i, v in ind.items()} for m, ind in self.gwp.items()},
            "solve": {
                "condition_estimate": f"{self.condition:.3g}",
                "significant_digits": self.digits,
                "warnings": list(self.warnings),
            },
            "scaling": {k: decimal_text(v) for k, v in self.scaling.items()},
            "outputs": {k: _output(g, n, u) for k, (g, n, u) in self.outputs.items()},
            "background": {k: {"amount": decimal_text(a), "unit": u} for k, (a, u) in self.background.items()},
            "emissions": {k: {"amount": decimal_text(v), "unit": "kg"} for k, v in self.emissions.items()},
            "allocations": [a.as_dict() for a in self.allocations],
            "default_factors": list(self.default_factors),
            "unchecked_gwp": list(self.unchecked_gwp),
        }


def _output(gross: Decimal, net: Decimal, unit: str) -> dict[str, str]:
    """Gross output, and net only where the processes use some of their own product."""
    out = {"gross": decimal_text(gross), "unit": unit}
    if net != gross:
        out["net"] = decimal_text(net)
    return out


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
    n = res.digits
    return {
        m: dict(zip(INDICATORS, (to_decimal(v.sum(), n), *(to_decimal(x, n) for x in v)), strict=True))
        for m, v in table.items()
    }


def row_of(res: SystemResults, product: str) -> int:
    row = res.compiled.row_index.get(product)
    if row is None:
        raise ProductSystemError(Reason.UNKNOWN_REFERENCE, f"unknown product {product!r}")
    return row


def footprint(res: SystemResults, product: str, detail: bool = True) -> ProductFootprint:
    """The footprint of one row per declared unit; `detail` adds scaling, inventories, gases."""
    row = row_of(res, product)
    if not detail:
        return summary(res, product, row)
    q = declared_factor(res.compiled, row)
    return detailed(res, product, row, res.scaling(row, q), q)


def summary(res: SystemResults, product: str, row: int) -> ProductFootprint:
    cs = res.compiled
    p = cs.system.products[cs.row_product[row]]
    return ProductFootprint(
        product,
        p.declared_amount,
        p.declared_unit,
        cs.system.gwp.name,
        gwp_table(res, row),
        res.digits,
        res.condition,
        res.warnings,
    )


def detailed(res: SystemResults, product: str, row: int, s: np.ndarray, q: float) -> ProductFootprint:
    """The full report of `row` from its scaling vector `s` (runs per `q` units of the row's product)."""
    cs, n = res.compiled, res.digits
    fp = summary(res, product, row)
    if s.min() < -1e-9 * max(1.0, np.abs(s).max()):
        raise ProductSystemError(Reason.NEGATIVE_NET_OUTPUT, f"negative scaling for {product!r}")
    used = np.flatnonzero(np.abs(s) > _ZERO)
    gross, net = cs.gross[used] * s[used], cs.A.diagonal()[used] * s[used]
    for k, i in enumerate(used):
        fp.scaling[cs.columns[i]] = to_decimal(s[i], n)
        fp.outputs[cs.rows[i]] = (to_decimal(gross[k], n), to_decimal(net[k], n), cs.row_unit[i])
    flows = res.X[row] * q
    for i in np.flatnonzero(np.abs(flows[: cs.n_background]) > _ZERO):
        fp.background[cs.flows[i]] = (to_decimal(flows[i], n), cs.flow_unit[i])
        if cs.system.background[cs.flows[i]].default:
            fp.default_factors.append(cs.flows[i])
    gases = cs.G @ flows
    for i in np.flatnonzero(np.abs(gases) > _ZERO):
        fp.emissions[cs.gas_keys[i]] = to_decimal(gases[i], n)
    fp.unchecked_gwp.extend(unchecked_gwp(cs, list(fp.emissions)))
    used_processes = {c.split("[", 1)[0] for c in fp.scaling}
    fp.allocations.extend(rec for pid, rec in cs.allocations.items() if pid in used_processes)
    return fp


def unchecked_gwp(cs: CompiledSystem, gas_keys: list[str]) -> list[str]:
    """The gas keys among `gas_keys` characterised with a GWP value that is not a checked reference."""
    gwp, out = cs.system.gwp, []
    for key in gas_keys:
        gas, _, origin = key.partition("/")
        used = gwp.key_for(gas, Origin(origin or "fossil"))
        if used is not None and used in gwp.unchecked:
            out.append(key)
    return out
