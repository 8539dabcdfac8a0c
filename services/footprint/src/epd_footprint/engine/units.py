"""Unit checks and conversions with pint (one registry for the engine)."""

from __future__ import annotations

from functools import lru_cache

import pint

from .errors import ProductSystemError, Reason

_REGISTRY: pint.UnitRegistry[float] = pint.UnitRegistry()
# Units common in LCA inventories that pint does not define.
_REGISTRY.define("tkm = tonne * kilometer")
_REGISTRY.define("Nm3 = meter ** 3")  # normal cubic metre of gas, treated as a volume


@lru_cache(maxsize=4096)
def _parse(unit: str) -> pint.Unit:
    try:
        return _REGISTRY.Unit(unit)
    except Exception as exc:  # pint raises several types (UndefinedUnitError, tokenizer errors, ...)
        raise ProductSystemError(Reason.UNKNOWN_UNIT, f"unknown unit {unit!r}") from exc


def check_unit(unit: str, where: str) -> str:
    """Validate that `unit` is a unit pint knows; returns it unchanged."""
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
    if from_unit == to_unit:
        return 1.0
    try:
        return _factor(from_unit, to_unit)
    except ProductSystemError as exc:
        raise ProductSystemError(exc.reason, exc.message, where) from None


def is_mass(unit: str) -> bool:
    return _parse(unit).dimensionality == _REGISTRY.kilogram.dimensionality
