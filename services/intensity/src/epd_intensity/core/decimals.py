"""The one Decimal rule set shared by the oracle and the faust app.

Quantisation (ROUND_HALF_EVEN, applied once per stored figure, never to intermediate products):
- activity totals, gas masses, CO2e masses, output masses: 6 decimal places (``KG``);
- allocation shares: 12 decimal places (``SHARE``);
- intensities, kg CO2e per kg: 9 decimal places (``INTENSITY``).
A CO2e figure is computed from the already-quantised gas mass (mass_kg x GWP), and an allocated
figure from the quantised share, so anyone can recompute a window from its own wire values.
Derived (daily, rolling) windows sum the quantised hourly figures exactly.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

from epd_intensity.errors import IntensityError

CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
KG = Decimal("0.000001")
SHARE = Decimal("0.000000000001")
INTENSITY = Decimal("0.000000001")
ZERO = Decimal(0)
# Largest accepted reading quantity (canonical unit); far above any meter interval, far below overflow.
MAX_QUANTITY = Decimal("1e12")
_DECIMAL_TEXT = re.compile(r"^[0-9]{1,15}(?:\.[0-9]{1,12})?$")


class QuantityError(IntensityError):
    """A quantity string that is not a plain non-negative decimal within range."""


def parse_quantity(text: str) -> Decimal:
    """Strict parse of a wire quantity: digits with an optional fraction; no sign, exponent, NaN."""
    if not isinstance(text, str) or not _DECIMAL_TEXT.fullmatch(text):
        shown = text[:40] if isinstance(text, str) else type(text).__name__
        raise QuantityError(f"quantity {shown!r} is not a plain decimal (up to 15.12 digits, no sign or exponent)")
    value = Decimal(text)
    if value > MAX_QUANTITY:
        raise QuantityError(f"quantity {text} exceeds {MAX_QUANTITY}")
    return value


def quantise(value: Decimal, quantum: Decimal = KG) -> Decimal:
    result = value.quantize(quantum, context=CONTEXT)
    return result.copy_abs() if result.is_zero() else result  # never "-0.000000"


def wire(value: Decimal, quantum: Decimal = KG) -> str:
    """Fixed-point decimal string with exactly the quantum's places."""
    return format(quantise(value, quantum), "f")


def mul(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.multiply(a, b)


def div(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.divide(a, b)


def add(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.add(a, b)
