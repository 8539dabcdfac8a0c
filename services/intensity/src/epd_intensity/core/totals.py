"""Quantised totals of a window: what hourly windows hold and what derived windows sum exactly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from epd_intensity.core.decimals import add
from epd_intensity.core.evidence import merkle_root

ActivityKey = tuple[int, str, str]  # (activity kind, activity code, unit)
LineKey = tuple[int, str, str, str]  # (emission source, gas, activity, factor id)


@dataclass
class WindowTotals:
    activities: dict[ActivityKey, Decimal] = field(default_factory=dict)
    emissions: dict[LineKey, tuple[Decimal, Decimal]] = field(default_factory=dict)  # (mass kg, CO2e kg)
    outputs: dict[str, Decimal] = field(default_factory=dict)  # product -> kg
    reading_count: int = 0
    merkle_root: str = ""
    factor_set_versions: tuple[str, ...] = ()
    gwp_sets: tuple[str, ...] = ()

    @property
    def total_co2e(self) -> Decimal:
        total = Decimal(0)
        for _, co2e in self.emissions.values():
            total = add(total, co2e)
        return total


def combine(children: Iterable[WindowTotals], with_root: bool = True) -> WindowTotals:
    """Exact sums of child windows (already quantised, so sums need no further rounding).

    Evidence of a derived window: the sum of reading counts, and a Merkle root over the sorted
    child roots (derivable from base windows alone, without keeping every reading hash).
    `with_root` False: no root (the caller sets one over other roots, e.g. a 30-day window's hours).
    """
    out = WindowTotals()
    roots: list[str] = []
    versions: set[str] = set()
    gwps: set[str] = set()
    for child in children:
        for activity, q in child.activities.items():
            out.activities[activity] = add(out.activities.get(activity, Decimal(0)), q)
        for line, (mass, co2e) in child.emissions.items():
            m0, c0 = out.emissions.get(line, (Decimal(0), Decimal(0)))
            out.emissions[line] = (add(m0, mass), add(c0, co2e))
        for product, q in child.outputs.items():
            out.outputs[product] = add(out.outputs.get(product, Decimal(0)), q)
        out.reading_count += child.reading_count
        roots.append(child.merkle_root)
        versions.update(child.factor_set_versions)
        gwps.update(child.gwp_sets)
    if with_root:
        out.merkle_root = merkle_root(roots)
    out.factor_set_versions = tuple(sorted(versions))
    out.gwp_sets = tuple(sorted(gwps))
    return out
