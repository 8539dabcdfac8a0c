"""The range a meter reading's value may have, checked at the edge (connector) and again at ingest,
before and after unit conversion.

A reading is a decimal text; Decimal accepts `1e-999999` or sixty significant digits, which
PostgreSQL's numeric then writes out in full (a million characters for one value). Nothing a meter
measures needs more than 28 significant digits (Decimal's default precision) or a magnitude outside
[1e-12, 1e15]: above, it is a broken register or a unit mix-up (1e15 kWh is ~50x the world's
annual electricity use); below, it is noise no factor makes material.
"""

from __future__ import annotations

from decimal import Decimal

MAX_SIGNIFICANT_DIGITS = 28
MAX_ABS_VALUE = Decimal("1e15")
MIN_ABS_VALUE = Decimal("1e-12")


# A value whose leading digit's exponent (Decimal.adjusted) lies strictly between the bounds' is inside
# them (|value| in [1e-11, 1e15)); only the others are compared exactly (ingest checks every reading twice).
_INSIDE_ADJUSTED = range(MIN_ABS_VALUE.adjusted() + 1, MAX_ABS_VALUE.adjusted())


def out_of_range(value: Decimal) -> str | None:
    """Why a finite value is outside the range of a reading, or None when it is inside."""
    if value.is_zero():
        return None
    if value.adjusted() not in _INSIDE_ADJUSTED:
        magnitude = abs(value)
        if magnitude > MAX_ABS_VALUE:
            return f"|value| is above {MAX_ABS_VALUE}"
        if magnitude < MIN_ABS_VALUE:
            return f"|value| is below {MIN_ABS_VALUE} (and not zero)"
    # Every digit of the coefficient is in str(value), so a short text cannot have too many (the usual
    # case, and cheap); otherwise count them. Trailing zeros are not significant (normalize() would
    # round to the context's 28 digits first).
    if len(str(value)) <= MAX_SIGNIFICANT_DIGITS:
        return None
    if len(bytes(value.as_tuple().digits).rstrip(b"\x00")) > MAX_SIGNIFICANT_DIGITS:
        return f"value has more than {MAX_SIGNIFICANT_DIGITS} significant digits"
    return None
