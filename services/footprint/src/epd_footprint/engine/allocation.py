"""Allocation of multi-output processes into single-output virtual processes (EN 15804 6.4.3.2).

Each output k of a process gets a factor f_k (sum 1); its virtual process keeps output k at the
declared amount and carries f_k times every input and emission. Methods: mass (outputs in kg),
economic (output amount x price, with price basis and period kept in the record), explicit factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import ProductSystemError, Reason
from .model import AllocationMethod, Price, Process, Product
from .numbers import to_decimal
from .units import conversion_factor, is_mass

SUM_TOLERANCE = 1e-9


@dataclass(frozen=True)
class AllocationRecord:
    """How one multi-output process was split; stored with every result that depends on it."""

    process: str
    method: AllocationMethod
    factors: dict[str, Decimal]
    prices: dict[str, Price]
    price_basis: str | None
    period: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "method": self.method.value,
            "factors": {k: str(v) for k, v in self.factors.items()},
            "prices": {
                k: {"amount": str(p.amount), "currency": p.currency, "unit": p.unit} for k, p in self.prices.items()
            },
            "price_basis": self.price_basis,
            "period": self.period,
        }


def allocation_factors(process: Process, products: dict[str, Product]) -> dict[str, float]:
    """Factor per output product; errors for missing prices, non-mass units or bad sums."""
    where = f"process {process.id}"
    outputs = process.outputs
    method = process.allocation.method
    if len(outputs) == 1 and method in (AllocationMethod.NONE, AllocationMethod.MASS, AllocationMethod.ECONOMIC):
        return {outputs[0].product: 1.0}
    if method is AllocationMethod.NONE:
        raise ProductSystemError(Reason.MALFORMED, "a multi-output process needs an allocation method", where)
    if method is AllocationMethod.EXPLICIT:
        given = process.allocation.factors
        names = {o.product for o in outputs}
        if set(given) != names:
            raise ProductSystemError(
                Reason.MISSING_FACTOR, f"explicit factors must name exactly the outputs {sorted(names)}", where
            )
        keys = {k: float(v) for k, v in given.items()}
    elif method is AllocationMethod.MASS:
        keys = {}
        for o in outputs:
            if not is_mass(o.unit):
                raise ProductSystemError(
                    Reason.UNIT_MISMATCH, f"mass allocation needs a mass unit for {o.product}, got {o.unit!r}", where
                )
            keys[o.product] = float(o.amount) * conversion_factor(o.unit, "kg", where)
    else:
        keys = _revenues(process, where)
    total = sum(keys.values())
    if method is AllocationMethod.EXPLICIT:
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise ProductSystemError(
                Reason.ALLOCATION_SUM, f"explicit allocation factors sum to {total!r}, not 1", where
            )
        return keys
    if total <= 0:
        raise ProductSystemError(Reason.MISSING_FACTOR, f"{method.value} allocation keys sum to zero", where)
    return {k: v / total for k, v in keys.items()}


def _revenues(process: Process, where: str) -> dict[str, float]:
    prices = process.allocation.prices
    currencies = {p.currency for p in prices.values()}
    if len(currencies) > 1:
        raise ProductSystemError(Reason.UNIT_MISMATCH, f"prices in several currencies {sorted(currencies)}", where)
    revenues = {}
    for o in process.outputs:
        price = prices.get(o.product)
        if price is None:
            raise ProductSystemError(Reason.MISSING_FACTOR, f"no price for co-product {o.product}", where)
        revenues[o.product] = float(o.amount) * conversion_factor(o.unit, price.unit, where) * float(price.amount)
    return revenues


def allocation_record(process: Process, factors: dict[str, float]) -> AllocationRecord:
    a = process.allocation
    return AllocationRecord(
        process.id, a.method, {k: to_decimal(v) for k, v in factors.items()}, dict(a.prices), a.price_basis, a.period
    )
