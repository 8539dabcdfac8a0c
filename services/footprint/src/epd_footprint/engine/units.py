"""The project's unit vocabulary, on pint: the spellings a product-system file may use, each with one meaning.

pint alone reads common LCA spellings wrongly or not at all: `ton` is the US short ton (907.18 kg),
`unit` a micro-nit, `kt` a knot, while `m2`, `pkm` or `piece` are unknown. So the engine accepts only
the spellings below (pint does the arithmetic), and refuses the ambiguous ones with what to write
instead. Anything else is an unknown unit.
"""

from __future__ import annotations

from functools import lru_cache

import pint

from .errors import ProductSystemError, Reason

_REGISTRY: pint.UnitRegistry[float] = pint.UnitRegistry()
# Dimensions pint does not have: counted items, persons (for pkm), and the normal cubic metre of
# gas (a quantity of gas at reference conditions, not a volume: never converted to m3).
_REGISTRY.define("piece = [count]")
_REGISTRY.define("person = [person]")
_REGISTRY.define("normal_cubic_meter = [normal_gas_volume]")

#: Accepted spelling -> pint expression. One spelling, one meaning.
VOCABULARY: dict[str, str] = {
    # mass
    "mg": "milligram",
    "g": "gram",
    "kg": "kilogram",
    "t": "tonne",
    "tonne": "tonne",
    "tonnes": "tonne",
    # energy
    "J": "joule",
    "kJ": "kilojoule",
    "MJ": "megajoule",
    "GJ": "gigajoule",
    "TJ": "terajoule",
    "Wh": "watt_hour",
    "kWh": "kilowatt_hour",
    "MWh": "megawatt_hour",
    "GWh": "gigawatt_hour",
    # volume and gas at normal conditions
    "l": "liter",
    "L": "liter",
    "m3": "meter ** 3",
    "Nm3": "normal_cubic_meter",
    # area and length
    "m2": "meter ** 2",
    "ha": "hectare",
    "km2": "kilometer ** 2",
    "m": "meter",
    "km": "kilometer",
    # transport services
    "tkm": "tonne * kilometer",
    "pkm": "person * kilometer",
    # counted items
    "piece": "piece",
    "pieces": "piece",
    "item": "piece",
    "items": "piece",
    "pcs": "piece",
    # time (machine hours, services)
    "h": "hour",
}

#: Spellings refused because they have several meanings (or pint gives them a surprising one).
AMBIGUOUS: dict[str, str] = {
    "ton": "pint reads 'ton' as the US short ton (907.18 kg), most LCA data mean the tonne; write t (1000 kg)",
    "tons": "pint reads 'tons' as US short tons (907.18 kg), most LCA data mean tonnes; write t (1000 kg)",
    "unit": "'unit' is a micro-nit (luminance) to pint; write piece for counted items",
    "units": "'units' is micro-nits (luminance) to pint; write piece for counted items",
    "kt": "'kt' is a knot to pint and a kilotonne to some data sets; write the amount in t",
    "Mt": "'Mt' is a megatonne or a metric ton; write the amount in t",
    "mt": "'mt' is a metric ton, a megatonne or a millitonne; write the amount in t",
    "MT": "'MT' is a metric ton or a megatonne; write the amount in t",
    "T": "'T' is a tesla to pint; write t for tonne",
    "gal": "'gal' is the US or the imperial gallon; write l",
    "cal": "'cal' is the thermochemical or the international calorie; write J",
    "kcal": "'kcal' is a thermochemical or an international kilocalorie; write kJ",
    "Btu": "'Btu' has several definitions; write MJ",
    "BTU": "'BTU' has several definitions; write MJ",
}

MASS = "kg"


def _suggestion(unit: str) -> str:
    near = sorted(u for u in VOCABULARY if u.lower() == unit.lower())
    return f"; did you mean {', '.join(near)}?" if near else ""


@lru_cache(maxsize=4096)
def _parse(unit: str) -> pint.Unit:
    if unit in AMBIGUOUS:
        raise ProductSystemError(Reason.AMBIGUOUS_UNIT, f"ambiguous unit {unit!r}: {AMBIGUOUS[unit]}")
    expression = VOCABULARY.get(unit)
    if expression is None:
        raise ProductSystemError(
            Reason.UNKNOWN_UNIT,
            f"unknown unit {unit!r}{_suggestion(unit)} (the project's units: {', '.join(VOCABULARY)})",
        )
    return _REGISTRY.Unit(expression)


def check_unit(unit: str, where: str) -> str:
    """Validate that `unit` is a spelling of the project's vocabulary; returns it unchanged."""
    if not isinstance(unit, str) or not unit.strip() or len(unit) > 64:
        raise ProductSystemError(Reason.MALFORMED, f"unit must be a short non-empty string, got {unit!r}", where)
    try:
        _parse(unit)
    except ProductSystemError as exc:
        raise ProductSystemError(exc.reason, exc.message, where) from None
    return unit


@lru_cache(maxsize=4096)
def _factor(from_unit: str, to_unit: str) -> float:
    source, target = _parse(from_unit), _parse(to_unit)
    if source.dimensionality != target.dimensionality:
        raise ProductSystemError(Reason.UNIT_MISMATCH, f"cannot convert {from_unit!r} to {to_unit!r}")
    return float(_REGISTRY.Quantity(1.0, source).to(target).magnitude)


def conversion_factor(from_unit: str, to_unit: str, where: str | None = None) -> float:
    """Multiplier turning an amount in `from_unit` into `to_unit`; UNIT_MISMATCH if dimensions differ."""
    try:
        if from_unit == to_unit:
            _parse(from_unit)
            return 1.0
        return _factor(from_unit, to_unit)
    except ProductSystemError as exc:
        raise ProductSystemError(exc.reason, exc.message, where) from None


def is_mass(unit: str) -> bool:
    return _parse(unit).dimensionality == _REGISTRY.kilogram.dimensionality
