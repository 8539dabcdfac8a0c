"""Emission factors, GWP sets and versioned factor sets (immutable values, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from epd.v1 import intensity_pb2

# Region codes: provinces ("inner-mongolia"), China grid regions ("north", "northeast", "east",
# "central", "northwest", "south", "southwest"), the nation ("CN") and "GLOBAL" (IPCC defaults).
NATIONAL = "CN"
GLOBAL = "GLOBAL"

SOURCE_BY_NAME: dict[str, int] = {
    "scope1_combustion": intensity_pb2.EMISSION_SOURCE_SCOPE1_COMBUSTION,
    "scope1_process": intensity_pb2.EMISSION_SOURCE_SCOPE1_PROCESS,
    "scope1_pfc": intensity_pb2.EMISSION_SOURCE_SCOPE1_PFC,
    "scope2_electricity": intensity_pb2.EMISSION_SOURCE_SCOPE2_ELECTRICITY,
    "scope2_steam": intensity_pb2.EMISSION_SOURCE_SCOPE2_STEAM,
    "upstream_reagent": intensity_pb2.EMISSION_SOURCE_UPSTREAM_REAGENT,
    "upstream_fuel": intensity_pb2.EMISSION_SOURCE_UPSTREAM_FUEL,
    # Modelled direct emissions (e.g. electrolysis per kg metal): the source follows each gas.
    "modelled_direct": intensity_pb2.EMISSION_SOURCE_UNSPECIFIED,
}


@dataclass(frozen=True)
class Factor:
    """Emissions per unit of one activity: either a gas breakdown (kg gas per unit) or CO2e only."""

    id: str
    activity: str
    source: str
    unit: str  # "kg/<activity unit>", e.g. "kg/kWh"
    region: str
    year_from: int
    year_to: int  # inclusive; 9999 for open-ended
    gases: dict[str, Decimal]  # gas -> kg gas per activity unit; empty when co2e_only is set
    co2e: Decimal | None  # kg CO2e per unit when no gas breakdown exists
    citation: str
    default: bool  # True when no checked source exists; `note` then says why
    note: str = ""

    def covers(self, year: int) -> bool:
        return self.year_from <= year <= self.year_to


@dataclass(frozen=True)
class GwpSet:
    """GWP-100 values by gas (kg CO2e per kg gas)."""

    name: str
    values: dict[str, Decimal]
    citation: str
    unchecked: frozenset[str] = frozenset()  # gases whose value is not checked in DESIGN.md

    def get(self, gas: str) -> Decimal | None:
        return self.values.get(gas)


@dataclass(frozen=True)
class FactorSet:
    """One immutable version of the factor library.

    `windows_from` pins which windows the set applies to (by window start, event time), so adding
    a new version never changes windows computed with an earlier one, even on replay.
    """

    version: str
    windows_from: datetime
    default_gwp_set: str
    year_fallback_max: int  # how many years back the latest-earlier-year fallback may reach
    factors: tuple[Factor, ...]
    gwp_sets: dict[str, GwpSet]
    by_activity: dict[str, tuple[Factor, ...]] = field(default_factory=dict, compare=False)
    # selection.select_factor's answers for this set, by (activity, source, regions, year): a pure
    # function of the set, asked for every emission line of every hourly window (selection.selected)
    selections: dict[tuple[str, str, tuple[str, ...], int], object] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index: dict[str, list[Factor]] = {}
        for factor in self.factors:
            index.setdefault(factor.activity, []).append(factor)
        object.__setattr__(self, "by_activity", {k: tuple(v) for k, v in index.items()})

    def gwp(self, name: str | None = None) -> GwpSet | None:
        return self.gwp_sets.get(name or self.default_gwp_set)


@dataclass(frozen=True)
class FactorLibrary:
    """All loaded set versions; the set for a window is chosen by the window's start."""

    sets: tuple[FactorSet, ...]

    def for_window(self, window_start: datetime) -> FactorSet | None:
        eligible = [s for s in self.sets if s.windows_from <= window_start]
        return max(eligible, key=lambda s: s.windows_from) if eligible else None

    def version(self, version: str) -> FactorSet | None:
        return next((s for s in self.sets if s.version == version), None)

    @classmethod
    def of(cls, factors: FactorSet | FactorLibrary) -> FactorLibrary:
        return factors if isinstance(factors, FactorLibrary) else cls((factors,))
