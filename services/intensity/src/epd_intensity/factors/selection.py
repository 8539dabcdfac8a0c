"""Choose the factor for an activity by region and year; a miss is a value, never an exception.

Documented rule (the only fallbacks there are):
1. Exact year, most specific region first: province, grid region, "CN" (national), "GLOBAL".
2. Otherwise the latest earlier year, at most `FactorSet.year_fallback_max` years back; among
   candidates the most recent year wins, then the most specific region. Used for readings dated
   after the latest published grid factor (e.g. 2024 readings take the 2023 value).
No later-year factor is ever used for an earlier reading. The selection records the region and
year actually used and why, so every emission line can be audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from epd_intensity.factors.model import GLOBAL, NATIONAL, Factor, FactorSet


@dataclass(frozen=True)
class FactorSelection:
    factor: Factor
    requested_year: int
    fallback: str  # "" when exact; else e.g. "region:CN", "year:2023", "region:north,year:2023"


@dataclass(frozen=True)
class FactorMissing:
    """No factor for this activity, source, region chain and year: counted, never raised."""

    activity: str
    source: str
    regions: tuple[str, ...]
    year: int
    reason: str


def region_chain(province: str | None, grid_region: str | None) -> tuple[str, ...]:
    """Most specific first, without duplicates."""
    chain: list[str] = []
    for region in (province, grid_region, NATIONAL, GLOBAL):
        if region and region not in chain:
            chain.append(region)
    return tuple(chain)


def selected(
    factors: FactorSet, activity: str, source: str, regions: tuple[str, ...], year: int
) -> FactorSelection | FactorMissing:
    """select_factor, answered once per set and question (FactorSet.selections)."""
    key = (activity, source, regions, year)
    answer = factors.selections.get(key)
    if answer is None:
        answer = factors.selections[key] = select_factor(factors, activity, source, regions, year)
    return cast(FactorSelection | FactorMissing, answer)


def select_factor(
    factors: FactorSet, activity: str, source: str, regions: tuple[str, ...], year: int
) -> FactorSelection | FactorMissing:
    candidates = [f for f in factors.by_activity.get(activity, ()) if f.source == source and f.region in regions]
    if not candidates:
        return FactorMissing(activity, source, regions, year, f"no {source} factor for {activity} in {regions}")
    rank = {region: i for i, region in enumerate(regions)}
    exact = [f for f in candidates if f.covers(year)]
    if exact:
        best = min(exact, key=lambda f: (rank[f.region], f.id))
        fallback = "" if rank[best.region] == 0 else f"region:{best.region}"
        return FactorSelection(best, year, fallback)
    earliest_allowed = year - factors.year_fallback_max
    earlier = [f for f in candidates if earliest_allowed <= f.year_to < year]
    if not earlier:
        return FactorMissing(
            activity,
            source,
            regions,
            year,
            f"no {source} factor for {activity} valid in {year} or up to {factors.year_fallback_max} years before",
        )
    best = min(earlier, key=lambda f: (-f.year_to, rank[f.region], f.id))
    parts = [] if rank[best.region] == 0 else [f"region:{best.region}"]
    parts.append(f"year:{best.year_to}")
    return FactorSelection(best, year, ",".join(parts))
