"""Allocation of a process's emissions across its co-products (EN 15804: physical, else economic).

Shares are quantised to 12 places; with no output at all every share is zero and every intensity
is undefined. Economic allocation uses the configured price per kg, its basis and its period,
which travel with every window.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from epd_intensity.core.decimals import SHARE, ZERO, add, div, mul, quantise
from epd_intensity.processes import ProcessConfig


def allocation_shares(outputs: Mapping[str, Decimal], process: ProcessConfig) -> dict[str, Decimal]:
    """Share per configured product, in [0, 1]; all zero when the window has no output."""
    basis = process.allocation.basis
    weights: dict[str, Decimal] = {}
    for product in process.products:
        quantity = outputs.get(product, ZERO)
        if basis == "economic":
            weights[product] = mul(quantity, process.allocation.prices[product])
        else:  # mass, or none with a single product
            weights[product] = quantity
    total = ZERO
    for w in weights.values():
        total = add(total, w)
    if total == 0:
        return {p: ZERO for p in process.products}
    return {p: quantise(div(w, total), SHARE) for p, w in weights.items()}
