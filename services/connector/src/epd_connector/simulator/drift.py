"""Drift specs for the simulator: `<meter>=<+|-><pct>%@<offset>`, e.g. `roasting.electricity=+20%@2h`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from epd_connector.errors import ConnectorError

_SPEC = re.compile(r"^(?P<meter>[A-Za-z0-9_.-]{1,128})=(?P<pct>[+-]\d{1,4}(\.\d{1,6})?)%@(?P<offset>[0-9smhd.]{1,32})$")
_OFFSET_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DriftSpecError(ConnectorError):
    """A drift spec that does not parse; the message says what form is expected."""


@dataclass(frozen=True)
class Drift:
    meter_id: str
    factor: Decimal  # multiplier applied from `after` on, e.g. 1.20 for +20%
    after: timedelta  # offset from the simulation start


def parse_offset(text: str) -> timedelta:
    """`2h`, `90m`, `1h30m`, `45s`, `1d`, `1.5h` -> timedelta."""
    pos, total = 0, Decimal(0)
    for m in _OFFSET_PART.finditer(text):
        if m.start() != pos:
            break
        total += Decimal(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise DriftSpecError(f"offset {text!r}: expected e.g. 2h, 90m, 1h30m, 45s or 1d")
    return timedelta(seconds=float(total))


def parse_drift(spec: str) -> Drift:
    m = _SPEC.match(spec.strip())
    if m is None:
        raise DriftSpecError(
            f"drift {spec[:80]!r}: expected <meter>=<+|-><percent>%@<offset>, e.g. roasting.electricity=+20%@2h"
        )
    try:
        pct = Decimal(m.group("pct"))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise DriftSpecError(f"drift {spec!r}: bad percentage") from exc
    if pct <= -100:
        raise DriftSpecError(f"drift {spec!r}: a drift of {pct}% would make values zero or negative")
    return Drift(m.group("meter"), 1 + pct / 100, parse_offset(m.group("offset")))
