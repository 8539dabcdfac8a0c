"""Unit normalisation with pint: every accepted quantity leaves ingest in its kind's canonical unit.

Canonical units by activity kind and physical dimension (a kind may accept several dimensions):

| kind            | energy | mass | gas volume (Nm3) | volume |
|-----------------|--------|------|------------------|--------|
| electricity     | kWh    |      |                  |        |
| fuel            | GJ     | kg   | Nm3              | L      |
| steam           | GJ     | kg   |                  |        |
| reagent         |        | kg   |                  | L      |
| direct emission |        | kg   |                  |        |
| product output  |        | kg   |                  |        |

Decision: ingest converts only between units of one physical dimension. It does NOT turn Nm3 of
natural gas or kg of coal into GJ: that needs the net calorific value and density of the plant's
actual fuel, which are emission-factor data with their own citations and versions, applied in
the intensity stage. So `Nm3` is its own dimension (normal cubic metre, 0 degC and 101.325 kPa)
and never converts to litres. Electricity is kept in kWh (grid factors are per kWh), not GJ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import pint

from epd.v1 import telemetry_pb2
from epd_ingest.errors import IngestError

AK = telemetry_pb2.ActivityKind

_UNIT_TEXT = re.compile(r"^[A-Za-z0-9_/*^. ³]{1,32}$")

_ENERGY = "[mass] * [length] ** 2 / [time] ** 2"
_MASS = "[mass]"
_GAS = "[normal_gas_volume]"
_VOLUME = "[length] ** 3"

CANONICAL: dict[int, dict[str, str]] = {
    AK.ACTIVITY_KIND_ELECTRICITY: {_ENERGY: "kWh"},
    AK.ACTIVITY_KIND_FUEL: {_ENERGY: "GJ", _MASS: "kg", _GAS: "Nm3", _VOLUME: "L"},
    AK.ACTIVITY_KIND_STEAM: {_ENERGY: "GJ", _MASS: "kg"},
    AK.ACTIVITY_KIND_REAGENT: {_MASS: "kg", _VOLUME: "L"},
    AK.ACTIVITY_KIND_DIRECT_EMISSION: {_MASS: "kg"},
    AK.ACTIVITY_KIND_PRODUCT_OUTPUT: {_MASS: "kg"},
}


class UnknownUnitError(IngestError):
    """The unit text is not a unit pint knows (or is not a plain unit expression)."""


class IncompatibleUnitError(IngestError):
    """A known unit whose dimension the activity kind does not accept."""


@dataclass(frozen=True)
class Normalised:
    quantity: Decimal
    unit: str


@lru_cache(maxsize=1)
def unit_registry() -> pint.UnitRegistry:
    """One registry, built on first use (no work at import time); Decimal magnitudes throughout."""
    ureg: pint.UnitRegistry = pint.UnitRegistry(non_int_type=Decimal, cache_folder=None)
    ureg.define("normal_cubic_meter = [normal_gas_volume] = Nm3 = Nm³")
    ureg.define("cubic_meter_alias = meter ** 3 = m3 = m³")
    return ureg


@lru_cache(maxsize=1024)
def _parse(unit: str) -> pint.Unit:
    if not _UNIT_TEXT.match(unit):
        raise UnknownUnitError(f"unit {unit[:40]!r} is empty, too long or has characters no unit uses")
    try:
        parsed = unit_registry().parse_units(unit)
    except (pint.errors.PintError, ValueError, TypeError, AttributeError, SyntaxError) as exc:
        raise UnknownUnitError(f"unknown unit {unit!r}: {exc}") from exc
    if parsed.dimensionless:
        raise UnknownUnitError(f"{unit!r} is not a physical unit")
    return parsed


@lru_cache(maxsize=4096)
def canonical_unit(kind: int, unit: str) -> str:
    """Canonical unit for `unit` under activity `kind`; raises UnknownUnitError / IncompatibleUnitError."""
    parsed = _parse(unit)
    accepted = CANONICAL.get(kind)
    if accepted is None:
        raise IncompatibleUnitError(f"activity kind {kind} has no canonical units")
    ureg = unit_registry()
    for dim, canonical in accepted.items():
        if parsed.dimensionality == ureg.get_dimensionality(dim):
            return canonical
    allowed = ", ".join(accepted.values())
    raise IncompatibleUnitError(
        f"{unit!r} ({parsed.dimensionality}) does not fit {AK.Name(kind)}; use one of {allowed}"
    )


def normalise(value: Decimal, unit: str, kind: int) -> Normalised:
    """Convert `value` in `unit` to the canonical unit of `kind` (exact Decimal arithmetic)."""
    target, factor = conversion(unit, kind)
    return Normalised(value if factor is None else value * factor, target)


@lru_cache(maxsize=4096)
def conversion(unit: str, kind: int) -> tuple[str, Decimal | None]:
    """(canonical unit, exact factor or None when `unit` already is canonical): one cached lookup per
    reading instead of pint; raises UnknownUnitError / IncompatibleUnitError (refusals are not cached)."""
    target = canonical_unit(kind, unit)
    return target, (None if unit == target else _factor(unit, target))


@lru_cache(maxsize=4096)
def _factor(unit: str, target: str) -> Decimal:
    """Exact Decimal factor from `unit` to `target`, computed by pint once per pair.

    Every accepted dimension is multiplicative (no offset units such as degC), so the conversion
    is value x factor; caching it removes pint's unit parsing from the per-reading path (it was
    ~80% of ingest CPU time, bench/bench_ingest.py).
    """
    return Decimal(unit_registry().Quantity(Decimal(1), _parse(unit)).to(target).magnitude)


def format_decimal(value: Decimal) -> str:
    """Plain decimal string for the wire (no exponent, no trailing zeros): `format(value.normalize(),
    "f")`, "0" for zero. str() writes the same digits and is cheaper, except where it switches to an
    exponent: a positive one (an integer; as the int writes it) or below 1e-6 (then format it)."""
    if value.is_zero():
        return "0"
    normal = value.normalize()
    text = str(normal)
    if "E" in text:
        return str(int(normal)) if "E+" in text else format(normal, "f")
    return text
