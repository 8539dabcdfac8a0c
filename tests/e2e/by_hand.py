"""The demo chain's A1-A3 GWP-total worked out by hand from its inputs, without the engine.

Inputs: the product system of deploy/demo/product-system.yaml, written out below (each stage's
product input and declared activities per kg of its output, and the factors of those activities),
and the totals of the intensity windows a version was computed from (sums of the meter readings:
kWh, GJ, kg, and kg of output). For a telemetry-backed stage, an activity its window reports counts
as (window quantity / window output kg) per kg; activities the window does not report count as
declared. Then, per kg, in Decimal arithmetic:

    footprint(stage) = sum(amount per kg x factor) + input kg per kg x footprint(upstream stage)
"""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 - the hand calculation reads better short
from typing import Any

# kg CO2e per unit, as in deploy/demo/product-system.yaml (sources there): grid electricity per kWh
# (MEE/NBS 2022, Inner Mongolia), combustion per GJ (IPCC 2006), default reagent and material
# factors per kg, direct gases per kg with the AR6 GWP-100 (CO2 1, CF4 7380, C2F6 12400).
FACTOR = {
    "electricity.grid": D("0.6849"),
    "fuel.diesel": D("74.1"),
    "fuel.coal": D("94.6"),
    "fuel.natural-gas": D("56.1"),
    "steam.purchased": D("110"),
    "reagent.flotation-collector": D("2.0"),
    "reagent.h2so4": D("0.1"),
    "reagent.nh4hco3": D("1.3"),
    "reagent.hcl": D("0.8"),
    "reagent.naoh": D("1.2"),
    "reagent.oxalic-acid": D("1.5"),
    "reagent.kerosene": D("1.0"),
    "gas.co2": D("1"),
    "gas.cf4": D("7380"),
    "gas.c2f6": D("12400"),
    "iron-metal": D("1.9"),  # not metered: always as declared
    "ferroboron": D("5.0"),  # not metered: always as declared
}
UNIT = {"electricity": "kWh", "fuel": "GJ", "steam": "GJ", "reagent": "kg", "gas": "kg"}

# (product, process, (upstream product, kg per kg) or None, declared activities per kg of product)
STAGES: list[tuple[str, str, tuple[str, D] | None, dict[str, D]]] = [
    (
        "re-concentrate-50",
        "baotou-mine/mine-beneficiation",
        None,
        {"electricity.grid": D("0.30"), "fuel.diesel": D("0.00072"), "reagent.flotation-collector": D("0.004")},
    ),
    (
        "re-calcine",
        "baotou-smelter/roasting",
        ("re-concentrate-50", D("0.8")),
        {"electricity.grid": D("1.5"), "reagent.h2so4": D("1.30"), "fuel.coal": D("0.0005"), "gas.co2": D("0.10")},
    ),
    (
        "mixed-re-carbonate",
        "baotou-smelter/leaching",
        ("re-calcine", D("2.5")),
        {"electricity.grid": D("0.08"), "reagent.nh4hco3": D("0.90"), "steam.purchased": D("0.0020")},
    ),
    (
        "nd-oxide-99",
        "baotou-smelter/solvent-extraction",
        ("mixed-re-carbonate", D("5")),
        {
            "electricity.grid": D("3.0"),
            "reagent.hcl": D("8.0"),
            "reagent.naoh": D("1.5"),
            "reagent.oxalic-acid": D("1.6"),
            "reagent.kerosene": D("0.05"),
            "steam.purchased": D("0.050"),
        },
    ),
    (
        "nd-metal",
        "baotou-metals/electrolysis",
        ("nd-oxide-99", D("1.17")),
        {"electricity.grid": D("10.0"), "gas.co2": D("0.283"), "gas.cf4": D("0.000238"), "gas.c2f6": D("0.0000265")},
    ),
    (
        "ndfeb-magnet",
        "baotou-metals/magnet",
        ("nd-metal", D("0.32")),
        {
            "electricity.grid": D("6.0"),
            "fuel.natural-gas": D("0.0054"),
            "iron-metal": D("0.65"),
            "ferroboron": D("0.05"),
        },
    ),
]


def per_kg(product: str, declared: dict[str, D], window: dict[str, Any] | None, log: list[str]) -> dict[str, D]:
    """Declared amounts per kg, with those the window reports replaced by quantity / output."""
    amounts = dict(declared)
    if window is None:
        log.append(f"  {product}: no window, declared amounts")
        return amounts
    out = D(window["outputs"][product])
    for code, (quantity, unit) in sorted(window["activities"].items()):
        if code not in FACTOR:
            continue
        assert unit == UNIT[code.split(".")[0]], (code, unit)
        amounts[code] = D(quantity) / out
        log.append(f"  {product}: {code} {quantity} {unit} / {out} kg = {amounts[code]:.9g} {unit}/kg")
    return amounts


def footprints(windows: dict[str, dict[str, Any]], log: list[str]) -> dict[str, D]:
    """A1-A3 GWP-total per kg of every product, given the window totals per process."""
    out: dict[str, D] = {}
    for product, process, upstream, declared in STAGES:
        amounts = per_kg(product, declared, windows.get(process), log)
        own = sum((amounts[code] * FACTOR[code] for code in amounts), D(0))
        terms = " + ".join(f"{amounts[c]:.6g} x {FACTOR[c]}" for c in amounts)
        total = own
        if upstream is not None:
            total += upstream[1] * out[upstream[0]]
            terms += f" + {upstream[1]} kg x {out[upstream[0]]:.9g} ({upstream[0]})"
        out[product] = total
        log.append(f"{product} = {terms} = {total:.12g} kg CO2e/kg")
    return out
