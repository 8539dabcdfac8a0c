"""Activity codes: which kind, canonical unit and emission sources each code has.

Canonical units (ingest converts to them): electricity kWh; fuels and steam GJ of net calorific
value (solid fuels in tonnes are converted by ingest with the plant's NCV, so combustion factors
are all kg/GJ = t/TJ); reagents, direct gases and product outputs kg.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from epd.v1 import intensity_pb2, telemetry_pb2

_CODE = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
K = telemetry_pb2
S = intensity_pb2
# Direct gases: code suffix -> (gas name in GWP sets, emission source).
DIRECT_GASES: dict[str, tuple[str, int]] = {
    "co2": ("CO2", S.EMISSION_SOURCE_SCOPE1_PROCESS),
    "ch4": ("CH4-fossil", S.EMISSION_SOURCE_SCOPE1_PROCESS),
    "n2o": ("N2O", S.EMISSION_SOURCE_SCOPE1_PROCESS),
    "cf4": ("CF4", S.EMISSION_SOURCE_SCOPE1_PFC),
    "c2f6": ("C2F6", S.EMISSION_SOURCE_SCOPE1_PFC),
    "sf6": ("SF6", S.EMISSION_SOURCE_SCOPE1_PROCESS),
}
PFC_GASES = frozenset({"CF4", "C2F6"})


@dataclass(frozen=True)
class ActivitySpec:
    code: str
    kind: int  # telemetry_pb2.ActivityKind
    unit: str
    sources: tuple[str, ...]  # factor sources looked up (factors/model.py SOURCE_BY_NAME keys)
    gas: str = ""  # for direct emissions
    product: str = ""  # for outputs

    @cached_property
    def key(self) -> tuple[int, str, str]:
        """(kind, code, unit): how buckets and totals key this activity (made once per spec)."""
        return (self.kind, self.code, self.unit)


def source_for_gas(gas: str) -> int:
    """Emission source of a directly emitted or modelled gas."""
    return S.EMISSION_SOURCE_SCOPE1_PFC if gas in PFC_GASES else S.EMISSION_SOURCE_SCOPE1_PROCESS


def classify(code: str, kind: int) -> ActivitySpec | None:
    """The spec for a known code whose kind matches; None for anything else (unknown activity)."""
    if not isinstance(code, str) or not isinstance(kind, int) or len(code) > 64:
        return None
    return _classify(code, kind)


@lru_cache(maxsize=1024)  # called per reading and per emitted line; the specs are immutable
def _classify(code: str, kind: int) -> ActivitySpec | None:
    if not _CODE.fullmatch(code):
        return None
    head, _, rest = code.partition(".")
    if code == "electricity.grid" and kind == K.ACTIVITY_KIND_ELECTRICITY:
        return ActivitySpec(code, kind, "kWh", ("scope2_electricity",))
    if head == "steam" and rest and kind == K.ACTIVITY_KIND_STEAM:
        return ActivitySpec(code, kind, "GJ", ("scope2_steam",))
    if head == "fuel" and rest and kind == K.ACTIVITY_KIND_FUEL:
        return ActivitySpec(code, kind, "GJ", ("scope1_combustion", "upstream_fuel"))
    if head == "reagent" and rest and kind == K.ACTIVITY_KIND_REAGENT:
        return ActivitySpec(code, kind, "kg", ("upstream_reagent",))
    if head == "gas" and rest in DIRECT_GASES and kind == K.ACTIVITY_KIND_DIRECT_EMISSION:
        return ActivitySpec(code, kind, "kg", (), gas=DIRECT_GASES[rest][0])
    if head == "output" and rest and kind == K.ACTIVITY_KIND_PRODUCT_OUTPUT:
        return ActivitySpec(code, kind, "kg", (), product=rest)
    return None
