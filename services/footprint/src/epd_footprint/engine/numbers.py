"""Strict number parsing for product-system files: Decimal, finite, bounded, sign-checked."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ProductSystemError, Reason

# Largest magnitude accepted for any amount, factor or price. Bigger values are typing errors
# (a plant with 1e15 t/yr of anything does not exist) and would lose precision in float64 sums.
MAX_MAGNITUDE = Decimal("1e15")


def parse_decimal(value: Any, where: str, *, sign: str = "any") -> Decimal:
    """Parse an int, float or decimal string; `sign` is "any", "nonnegative" or "positive"."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ProductSystemError(Reason.MALFORMED, f"expected a number, got {type(value).__name__}", where)
    if isinstance(value, str) and len(value) > 64:
        raise ProductSystemError(Reason.INVALID_NUMBER, "number text too long", where)
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ProductSystemError(Reason.MALFORMED, f"not a number: {value!r}", where) from None
    if not number.is_finite():
        raise ProductSystemError(Reason.INVALID_NUMBER, f"not a finite number: {value!r}", where)
    if abs(number) > MAX_MAGNITUDE:
        raise ProductSystemError(Reason.INVALID_NUMBER, f"{value!r} is out of range (|x| <= 1e15)", where)
    if sign == "positive" and number <= 0:
        raise ProductSystemError(Reason.INVALID_NUMBER, f"must be > 0, got {value!r}", where)
    if sign == "nonnegative" and number < 0:
        raise ProductSystemError(Reason.INVALID_NUMBER, f"must be >= 0, got {value!r}", where)
    return number


SIGNIFICANT_DIGITS = 12


def to_decimal(value: float, digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    """A float64 result as a decimal of `digits` significant digits (at most 12).

    The solve carries about 15-16 significant digits and loses a few to rounding, so the last
    digits of `repr` are noise (0.21345759999999991 for 0.2134576); 12 digits keep every digit
    that means something in a well-conditioned solve. An ill-conditioned one supports fewer
    (solve.py), and its results are rounded to those. Print with `decimal_text`, not `str`.
    """
    digits = max(1, min(digits, SIGNIFICANT_DIGITS))
    return Decimal(format(float(value), f".{digits}g"))


def decimal_text(value: Decimal) -> str:
    """Fixed-point text without exponent: `str(Decimal)` writes 1.5E-7 for small values."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def float_text(value: float, digits: int = SIGNIFICANT_DIGITS) -> str:
    """`decimal_text(to_decimal(value, digits))`, without building a Decimal for the usual cases.

    `%g` rounds to the significant digits; where it would write an exponent for a small value,
    the same digits are written fixed-point by asking for as many decimals as they need.
    """
    d = max(1, min(digits, SIGNIFICANT_DIGITS))
    text = format(float(value), f".{d}g")
    if "e" in text:
        exponent = int(text[text.index("e") + 1 :])
        if exponent >= 0:
            return decimal_text(Decimal(text))
        text = format(float(value), f".{d - 1 - exponent}f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
