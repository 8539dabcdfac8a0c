"""Simulator ratio data: load and validate ratios.yaml into meter descriptions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from epd_connector.errors import ConnectorError

# Exact SI-prefix factors from the canonical unit to a meter unit (meter value = canonical * factor).
# Kept here rather than using pint so the site connector does not carry a units library.
METER_UNIT_FACTORS: dict[tuple[str, str], Decimal] = {
    ("kWh", "kWh"): Decimal(1),
    ("kWh", "MWh"): Decimal("0.001"),
    ("kWh", "Wh"): Decimal(1000),
    ("kg", "kg"): Decimal(1),
    ("kg", "t"): Decimal("0.001"),
    ("kg", "g"): Decimal(1000),
    ("GJ", "GJ"): Decimal(1),
    ("GJ", "MJ"): Decimal(1000),
    ("L", "L"): Decimal(1),
    ("L", "m3"): Decimal("0.001"),
    ("Nm3", "Nm3"): Decimal(1),
}
CANONICAL_BY_KIND = {
    "electricity": {"kWh"},
    "fuel": {"GJ", "kg", "Nm3", "L"},
    "steam": {"GJ", "kg"},
    "reagent": {"kg", "L"},
    "direct_emission": {"kg"},
    "product_output": {"kg"},
}


class RatiosError(ConnectorError):
    """ratios.yaml content the simulator cannot use."""


@dataclass(frozen=True)
class SimMeter:
    meter_id: str  # "<stage>.<name>", e.g. "roasting.electricity"
    stage: str
    activity_kind: str
    activity: str
    per_kg: Decimal  # canonical unit per kg of stage output
    unit: str  # canonical unit
    meter_unit: str
    kind: str  # "interval" | "counter"
    rollover: Decimal | None
    product_id: str
    source: str

    @property
    def factor(self) -> Decimal:
        return METER_UNIT_FACTORS[(self.unit, self.meter_unit)]


@dataclass(frozen=True)
class Stage:
    name: str
    nominal_kg_per_hour: Decimal
    meters: tuple[SimMeter, ...]  # output meter first


def _dec(v: Any, where: str) -> Decimal:
    try:
        d = Decimal(str(v))
    except InvalidOperation as exc:
        raise RatiosError(f"{where}: {v!r} is not a decimal") from exc
    if not d.is_finite() or d < 0:
        raise RatiosError(f"{where}: must be a finite, non-negative number")
    return d


def _meter(stage: str, name: str, d: dict[str, Any], output: bool) -> SimMeter:
    where = f"{stage}.{name}"
    try:
        kind_name = "product_output" if output else d["activity_kind"]
        unit = "kg" if output else d["unit"]
        m = SimMeter(
            meter_id=where,
            stage=stage,
            activity_kind=kind_name,
            activity=str(d["activity"]),
            per_kg=Decimal(1) if output else _dec(d["per_kg"], f"{where}.per_kg"),
            unit=unit,
            meter_unit=str(d["meter_unit"]),
            kind=str(d["kind"]),
            rollover=_dec(d["rollover"], f"{where}.rollover") if d.get("rollover") is not None else None,
            product_id=str(d.get("product_id") or ""),
            source=str(d["source"]),
        )
    except KeyError as exc:
        raise RatiosError(f"{where}: missing field {exc}") from exc
    if m.unit not in CANONICAL_BY_KIND.get(m.activity_kind, set()):
        raise RatiosError(f"{where}: unit {m.unit!r} is not canonical for {m.activity_kind!r}")
    if (m.unit, m.meter_unit) not in METER_UNIT_FACTORS:
        raise RatiosError(f"{where}: no factor from {m.unit} to meter unit {m.meter_unit}")
    if m.kind not in ("interval", "counter"):
        raise RatiosError(f"{where}: kind must be interval or counter")
    if not m.source.strip():
        raise RatiosError(f"{where}: every ratio needs a source")
    return m


def parse_ratios(data: Any) -> dict[str, Stage]:
    if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
        raise RatiosError("ratios: expected a mapping with a `stages` mapping")
    stages: dict[str, Stage] = {}
    for name, s in data["stages"].items():
        if not isinstance(s, dict) or "output" not in s:
            raise RatiosError(f"stage {name}: needs an `output`")
        out = _meter(name, "output", s["output"], output=True)
        acts = [_meter(name, str(a.get("name")), a, output=False) for a in s.get("activities") or []]
        if len({m.meter_id for m in acts}) != len(acts):
            raise RatiosError(f"stage {name}: duplicate activity names")
        stages[name] = Stage(
            name, _dec(s["output"].get("nominal_kg_per_hour"), f"{name}.output.nominal_kg_per_hour"), (out, *acts)
        )
    return stages


def load_ratios(path: str | Path | None = None) -> dict[str, Stage]:
    """Load ratios.yaml (the packaged one by default)."""
    if path is None:
        text = resources.files(__package__).joinpath("ratios.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    try:
        return parse_ratios(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise RatiosError(f"ratios: not valid YAML: {exc}") from exc
