"""Load versioned factor sets from YAML data files (factors/data/set-*.yaml and their includes).

Numbers are read from the YAML text as exact Decimals (never through float). Any malformed file
raises FactorDataError naming the file and the reason; loading happens at start-up, not per reading.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from epd_intensity.errors import IntensityError
from epd_intensity.factors.model import SOURCE_BY_NAME, Factor, FactorLibrary, FactorSet, GwpSet

DATA_DIR = Path(__file__).parent / "data"
_CANONICAL_UNITS = {"electricity": "kWh", "fuel": "GJ", "steam": "GJ", "reagent": "kg", "model": "kg"}
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"


class FactorDataError(IntensityError):
    """A factor data file that cannot be used; the message names the file and the reason."""


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader that turns YAML floats into Decimal from their source text (no binary rounding)."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # .inf / .nan spellings
        raise yaml.constructor.ConstructorError(None, None, f"not a finite number: {text}", node.start_mark) from exc
    if not value.is_finite():
        raise yaml.constructor.ConstructorError(None, None, f"not a finite number: {text}", node.start_mark)
    return value


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_DecimalLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FactorDataError(f"{path.name}: cannot read: {exc}") from exc


class _FactorDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_ID)
    activity: str = Field(pattern=r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$", max_length=64)
    source: str
    unit: str
    region: str = Field(min_length=1, max_length=64)
    years: tuple[int, int | None]
    gases: dict[str, Decimal] = Field(default_factory=dict)
    co2e: Decimal | None = None
    citation: str = ""
    default: bool = False
    note: str = ""

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCE_BY_NAME:
            raise ValueError(f"unknown source {value!r}; expected one of {sorted(SOURCE_BY_NAME)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _FactorDoc:
        if bool(self.gases) == (self.co2e is not None):
            raise ValueError("give either `gases` or `co2e`, not both or neither")
        values = list(self.gases.values()) + ([self.co2e] if self.co2e is not None else [])
        if any(not v.is_finite() or v < 0 for v in values):
            raise ValueError("factor values must be finite and non-negative")
        start, end = self.years
        if not 1990 <= start <= 2100 or (end is not None and not start <= end <= 2100):
            raise ValueError(f"years {self.years} out of range")
        if not self.default and not self.citation.strip():
            raise ValueError("a factor without a citation must be marked `default: true` with a note")
        if self.default and not self.note.strip():
            raise ValueError("a default factor needs a note saying why no checked source exists")
        expected = _CANONICAL_UNITS.get(self.activity.split(".")[0])
        if expected and self.unit != f"kg/{expected}":
            raise ValueError(f"unit {self.unit!r} for {self.activity}; expected 'kg/{expected}'")
        return self


class _GwpDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    citation: str = Field(min_length=1)
    values: dict[str, Decimal]
    unchecked: list[str] = Field(default_factory=list)


class _SetDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
    windows_from: date
    default_gwp_set: str
    year_fallback_max: int = Field(ge=0, le=10)
    gwp_file: str
    includes: list[str] = Field(min_length=1)


def _validate(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FactorDataError(f"{where}: {exc}") from exc


def _load_include(path: Path) -> list[Factor]:
    doc = read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("factors"), list):
        raise FactorDataError(f"{path.name}: expected a mapping with a `factors` list")
    factors = []
    for i, raw in enumerate(doc["factors"]):
        f = _validate(_FactorDoc, raw, f"{path.name} factor #{i}")
        factors.append(
            Factor(
                id=f.id,
                activity=f.activity,
                source=f.source,
                unit=f.unit,
                region=f.region,
                year_from=f.years[0],
                year_to=f.years[1] if f.years[1] is not None else 9999,
                gases=dict(f.gases),
                co2e=f.co2e,
                citation=f.citation,
                default=f.default,
                note=f.note,
            )
        )
    return factors


def load_gwp_sets(path: Path) -> dict[str, GwpSet]:
    doc = read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("sets"), dict):
        raise FactorDataError(f"{path.name}: expected a mapping with a `sets` mapping")
    out = {}
    for name, raw in doc["sets"].items():
        g = _validate(_GwpDoc, raw, f"{path.name} set {name}")
        if any(not v.is_finite() or v <= 0 for v in g.values.values()):
            raise FactorDataError(f"{path.name} set {name}: GWP values must be positive")
        out[str(name)] = GwpSet(str(name), dict(g.values), g.citation, frozenset(g.unchecked))
    return out


def load_factor_set(manifest: Path) -> FactorSet:
    doc = _validate(_SetDoc, read_yaml(manifest), manifest.name)
    gwp_sets = load_gwp_sets(manifest.parent / doc.gwp_file)
    if doc.default_gwp_set not in gwp_sets:
        raise FactorDataError(f"{manifest.name}: default GWP set {doc.default_gwp_set} not in {doc.gwp_file}")
    factors: list[Factor] = []
    for name in doc.includes:
        if not re.fullmatch(r"[A-Za-z0-9._-]+\.yaml", name):
            raise FactorDataError(f"{manifest.name}: include {name!r} must be a plain file name in the same folder")
        factors.extend(_load_include(manifest.parent / name))
    ids = [f.id for f in factors]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise FactorDataError(f"{manifest.name}: duplicate factor ids {duplicates}")
    start = datetime(doc.windows_from.year, doc.windows_from.month, doc.windows_from.day, tzinfo=UTC)
    return FactorSet(doc.version, start, doc.default_gwp_set, doc.year_fallback_max, tuple(factors), gwp_sets)


def load_library(data_dir: Path = DATA_DIR) -> FactorLibrary:
    """Every `set-*.yaml` manifest in `data_dir`; versions and start dates must be unique."""
    sets = tuple(load_factor_set(p) for p in sorted(data_dir.glob("set-*.yaml")))
    if not sets:
        raise FactorDataError(f"{data_dir}: no set-*.yaml manifests")
    for attr in ("version", "windows_from"):
        values = [getattr(s, attr) for s in sets]
        if len(set(values)) != len(values):
            raise FactorDataError(f"{data_dir}: factor sets share a {attr}")
    return FactorLibrary(sets)
