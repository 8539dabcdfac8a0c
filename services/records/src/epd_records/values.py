"""Checked conversions shared by the format mappings: decimals, times, ids, texts, results, units."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import footprint_pb2
from epd_records.errors import MappingError

MODULE_NAMES = {
    footprint_pb2.LIFE_CYCLE_MODULE_A1: "A1",
    footprint_pb2.LIFE_CYCLE_MODULE_A2: "A2",
    footprint_pb2.LIFE_CYCLE_MODULE_A3: "A3",
    footprint_pb2.LIFE_CYCLE_MODULE_A1_A3: "A1-A3",
}
INDICATOR_NAMES = {
    footprint_pb2.INDICATOR_GWP_TOTAL: "GWP-total",
    footprint_pb2.INDICATOR_GWP_FOSSIL: "GWP-fossil",
    footprint_pb2.INDICATOR_GWP_BIOGENIC: "GWP-biogenic",
    footprint_pb2.INDICATOR_GWP_LULUC: "GWP-luluc",
}
# Spellings of "kg CO2-equivalent" accepted on ModuleResult.unit; results are never converted.
_KG_CO2E = {"kgco2e", "kgco2eq", "kgco2-eq", "kgco2-eqv", "kgco2eqv", "kgco2eqv."}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_MAX_ABS = Decimal("1e15")


def text(value: str, what: str, *, required: bool = False, max_len: int = 2000) -> str:
    """Return a cleaned text; reject NUL and other control characters (not representable in XML)."""
    if not isinstance(value, str):
        raise MappingError(f"{what} must be text")
    if _CONTROL.search(value):
        raise MappingError(f"{what} contains a control character")
    if len(value) > max_len:
        raise MappingError(f"{what} is longer than {max_len} characters")
    if required and not value.strip():
        raise MappingError(f"{what} must not be empty")
    return value.strip()


def parse_decimal(value: str, what: str) -> Decimal:
    """Parse a decimal string; finite, at most 64 characters, |x| < 1e15, at most 30 decimals."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise MappingError(f"{what} must be a decimal string of 1..64 characters, got {value!r:.80}")
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise MappingError(f"{what} is not a decimal: {value!r:.80}") from None
    if not number.is_finite():
        raise MappingError(f"{what} must be finite, got {value!r}")
    if abs(number) >= _MAX_ABS:
        raise MappingError(f"{what} is out of range (|x| >= 1e15): {value!r}")
    if number.as_tuple().exponent < -30:  # type: ignore[operator]
        raise MappingError(f"{what} has more than 30 decimal places: {value!r}")
    return number


def wire_decimal(number: Decimal) -> str:
    """Fixed-point decimal string as PACT's Decimal pattern wants (no exponent, no '-0')."""
    out = format(number, "f")
    if number.is_zero():
        out = out.lstrip("-")
    return out


def timestamp(message: Message, field: str, what: str, *, required: bool = True) -> datetime | None:
    """Read a google.protobuf.Timestamp field as an aware UTC datetime."""
    if not message.HasField(field):
        if required:
            raise MappingError(f"{what} is missing")
        return None
    ts: Timestamp = getattr(message, field)
    try:
        value = ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise MappingError(f"{what} is out of range: {exc}") from None
    if not 1970 <= value.year <= 9999:
        raise MappingError(f"{what} is out of range (year {value.year})")
    return value


def iso(value: datetime) -> str:
    """RFC 3339 date-time in UTC with a 'Z' suffix."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pf_uuid(value: str, what: str) -> str:
    """Return the canonical lowercase UUID of `urn:uuid:<uuid>` or a bare UUID."""
    if not isinstance(value, str) or len(value) > 60:
        raise MappingError(f"{what} must be a UUID or urn:uuid, got {value!r:.80}")
    bare = value[9:] if value.lower().startswith("urn:uuid:") else value
    try:
        parsed = uuid.UUID(bare)
    except ValueError:
        raise MappingError(f"{what} is not a UUID: {value!r:.80}") from None
    if str(parsed) != bare.lower():
        raise MappingError(f"{what} must use the hyphenated 8-4-4-4-12 form: {value!r:.80}")
    return str(parsed)


ResultTable = dict[tuple[str, str], Decimal]


def result_table(fv: footprint_pb2.FootprintVersion) -> ResultTable:
    """Map (module name, indicator name) -> value in kg CO2e per declared unit, checked."""
    table: ResultTable = {}
    for i, result in enumerate(fv.results):
        module = MODULE_NAMES.get(result.module)
        indicator = INDICATOR_NAMES.get(result.indicator)
        if module is None or indicator is None:
            raise MappingError(f"result {i}: module and indicator must be set to known values")
        unit = result.unit.replace(" ", "").replace("_", "").lower()
        if unit not in _KG_CO2E:
            raise MappingError(f"result {i} ({module} {indicator}): unit must be kg CO2e, got {result.unit!r:.40}")
        if (module, indicator) in table:
            raise MappingError(f"result {i}: duplicate {module} {indicator}")
        table[(module, indicator)] = parse_decimal(result.value, f"result {module} {indicator}")
    if not table:
        raise MappingError("footprint version has no results")
    return table


def a1_a3(table: ResultTable, indicator: str) -> Decimal | None:
    """Product stage (A1-A3) value: the declared A1-A3 result, else A1+A2+A3 when all three exist."""
    if ("A1-A3", indicator) in table:
        return table[("A1-A3", indicator)]
    parts = [table[(m, indicator)] for m in ("A1", "A2", "A3") if (m, indicator) in table]
    return sum(parts, Decimal(0)) if len(parts) == 3 else None


@dataclass(frozen=True)
class DeclaredUnit:
    amount: Decimal
    pact_unit: str  # one of PACT declaredUnitOfMeasurement
    mass_kg: Decimal | None  # mass of the declared unit when it is a mass
    ilcd_unit: str


# Alias -> (PACT unit, factor to the PACT unit, is mass). A small table rather than pint: the set
# of declared units a rare-earth programme uses is closed, and PACT has its own unit vocabulary.
_UNITS = {
    "kg": ("kilogram", Decimal(1), True),
    "kilogram": ("kilogram", Decimal(1), True),
    "g": ("kilogram", Decimal("0.001"), True),
    "t": ("kilogram", Decimal(1000), True),
    "tonne": ("kilogram", Decimal(1000), True),
    "piece": ("piece", Decimal(1), False),
    "pcs": ("piece", Decimal(1), False),
}


def declared_unit(value: str, mass_per_unit_kg: Decimal | None) -> DeclaredUnit:
    """Parse "1 kg", "kg", "1000 kg", "1 t" or "1 piece" (mass then comes from ProductInfo)."""
    raw = text(value, "declared unit", required=True, max_len=40)
    parts = raw.split()
    if len(parts) == 1:
        amount, unit = Decimal(1), parts[0]
    elif len(parts) == 2:
        amount, unit = parse_decimal(parts[0], "declared unit amount"), parts[1]
    else:
        raise MappingError(f"declared unit must be '<amount> <unit>', got {raw!r}")
    if unit.lower() not in _UNITS:
        raise MappingError(f"declared unit {unit!r} is not supported (use one of {sorted(_UNITS)})")
    pact_unit, factor, is_mass = _UNITS[unit.lower()]
    amount = amount * factor
    if amount <= 0:
        raise MappingError("declared unit amount must be > 0")
    if is_mass:
        return DeclaredUnit(amount, pact_unit, amount, "kg")
    if mass_per_unit_kg is None:
        raise MappingError(f"declared unit {raw!r} is not a mass: ProductInfo.mass_per_declared_unit_kg is needed")
    return DeclaredUnit(amount, pact_unit, mass_per_unit_kg, "Item(s)")
