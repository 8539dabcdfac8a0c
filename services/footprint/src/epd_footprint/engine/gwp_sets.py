"""The built-in GWP-100 sets (kg CO2e per kg gas), by gas and, where the IPCC gives different values,
by origin (`GAS/fossil`, `GAS/biogenic`, `GAS/luluc`; a plain `GAS` applies to every origin).

Figures checked in DESIGN.md section 3 carry no mark; the others are listed in `unchecked` and every
result that uses them says so (ProductFootprint.unchecked_gwp), as default background factors are.
"""

from __future__ import annotations

from decimal import Decimal

from .model import GwpSet


def _set(name: str, source: str, factors: dict[str, str], unchecked: tuple[str, ...] = ()) -> GwpSet:
    return GwpSet(name, source, {k: Decimal(v) for k, v in factors.items()}, basis=name, unchecked=unchecked)


BUILT_IN: dict[str, GwpSet] = {
    "AR4": _set(
        "AR4",
        "IPCC AR4 WG1 (2007) Ch. 2 Table 2.14, GWP-100 (DESIGN.md section 3); no origin-specific values",
        {"CH4": "25", "N2O": "298", "CF4": "7390", "C2F6": "12200", "SF6": "22800"},
    ),
    "AR5": _set(
        "AR5",
        "IPCC AR5 WG1 (2013) Ch. 8 Table 8.A.1, GWP-100 without climate-carbon feedbacks; CH4 28, N2O 265, "
        "CF4 6630 checked in DESIGN.md section 3; fossil CH4 30, C2F6 11100, SF6 23500 from the same table, "
        "not among the checked figures",
        {"CH4": "28", "CH4/fossil": "30", "N2O": "265", "CF4": "6630", "C2F6": "11100", "SF6": "23500"},
        unchecked=("CH4/fossil", "C2F6", "SF6"),
    ),
    "AR6": _set(
        "AR6",
        "IPCC AR6 WG1 (2021) Ch. 7 Table 7.15 (CH4 fossil 29.8, non-fossil 27.0; also GHG Protocol 'Global "
        "Warming Potential Values', August 2024) and Table 7.SM.7 (N2O 273, CF4 7380, C2F6 12400, SF6 25200); "
        "DESIGN.md section 3",
        {
            "CH4/fossil": "29.8",
            "CH4/biogenic": "27.0",
            "CH4/luluc": "27.0",
            "N2O": "273",
            "CF4": "7380",
            "C2F6": "12400",
            "SF6": "25200",
        },
    ),
}
