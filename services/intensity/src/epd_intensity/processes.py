"""Process configuration: where a unit process sits (plant, grid region, province), what it makes
and how its emissions are allocated. Loaded from YAML; malformed input raises ProcessConfigError
with the reason, at start-up."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from epd.v1 import intensity_pb2
from epd_intensity.errors import IntensityError

_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"
_PROCESS_ID = r"^[a-z0-9][a-z0-9._-]{0,63}/[a-z0-9][a-z0-9._-]{0,63}$"
BASIS = {
    "none": intensity_pb2.ALLOCATION_BASIS_NONE,
    "mass": intensity_pb2.ALLOCATION_BASIS_MASS,
    "economic": intensity_pb2.ALLOCATION_BASIS_ECONOMIC,
}


class ProcessConfigError(IntensityError):
    """A process configuration that cannot be used; the message says which field and why."""


class EmissionModel(BaseModel):
    """Modelled direct emissions per kg of a product (e.g. electrolysis CF4/C2F6 without a meter)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    activity: str = Field(pattern=r"^model(?:[.-][a-z0-9]+)+$")  # factor activity, e.g. model.electrolysis.nd-metal
    product: str = Field(pattern=_ID)


class Allocation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    basis: Literal["none", "mass", "economic"] = "none"
    # Economic allocation only: price per kg by product, the price source and the period it covers.
    prices: dict[str, Decimal] = Field(default_factory=dict)
    price_basis: str = Field(default="", max_length=200)
    price_period: str = Field(default="", max_length=64)

    @property
    def wire_basis(self) -> str:
        """The text stored with every window (IntensityWindow.allocation_price_basis)."""
        return f"{self.price_basis}; period {self.price_period}" if self.basis == "economic" else ""


class ProcessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    process_id: str = Field(pattern=_PROCESS_ID)
    plant_id: str = Field(pattern=_ID)
    grid_region: str = Field(pattern=_ID)
    province: str | None = Field(default=None, pattern=_ID)
    products: tuple[str, ...] = Field(min_length=1, max_length=64)
    allocation: Allocation = Allocation()
    # How long after a window's end a late reading may still revise it (event time).
    allowed_lateness_s: int = Field(default=3600, ge=0, le=7 * 86400)
    gwp_set: str | None = None  # None: the factor set's default
    emission_model: EmissionModel | None = None

    @property
    def allowed_lateness(self) -> timedelta:
        return timedelta(seconds=self.allowed_lateness_s)

    @property
    def allocation_basis(self) -> intensity_pb2.AllocationBasis:
        return BASIS[self.allocation.basis]

    @model_validator(mode="after")
    def _consistent(self) -> ProcessConfig:
        if not self.process_id.startswith(f"{self.plant_id}/"):
            raise ValueError(f"process_id {self.process_id!r} must start with its plant id {self.plant_id!r}/")
        if len(set(self.products)) != len(self.products):
            raise ValueError("products must be unique")
        alloc = self.allocation
        if alloc.basis == "none" and len(self.products) > 1:
            raise ValueError("several products need allocation basis 'mass' or 'economic'")
        if alloc.basis == "economic":
            if set(alloc.prices) != set(self.products):
                raise ValueError(f"economic allocation needs a price for exactly the products {list(self.products)}")
            if any(not p.is_finite() or p <= 0 or p > Decimal("1e9") for p in alloc.prices.values()):
                raise ValueError("prices must be positive, finite and at most 1e9 per kg")
            if not alloc.price_basis.strip() or not alloc.price_period.strip():
                raise ValueError("economic allocation needs price_basis and price_period")
        elif alloc.prices:
            raise ValueError("prices are only meaningful with economic allocation")
        if self.emission_model and self.emission_model.product not in self.products:
            raise ValueError(f"emission_model product {self.emission_model.product!r} is not a product of the process")
        return self


class ProcessCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    processes: tuple[ProcessConfig, ...] = Field(min_length=1, max_length=100_000)

    @model_validator(mode="after")
    def _unique(self) -> ProcessCatalog:
        ids = [p.process_id for p in self.processes]
        if len(set(ids)) != len(ids):
            raise ValueError("process ids must be unique")
        return self

    def by_id(self) -> dict[str, ProcessConfig]:
        return {p.process_id: p for p in self.processes}


def parse_processes(text: str, origin: str = "<text>") -> dict[str, ProcessConfig]:
    """Process configs by id from YAML text. Prices are read as strings or YAML numbers; YAML
    floats are converted through their text (str), never through binary float arithmetic."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProcessConfigError(f"{origin}: not YAML: {exc}") from exc
    _floats_to_text(doc)
    try:
        return ProcessCatalog.model_validate(doc).by_id()
    except ValidationError as exc:
        raise ProcessConfigError(f"{origin}: {exc}") from exc


def load_processes(path: Path) -> dict[str, ProcessConfig]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProcessConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_processes(text, str(path))


def _floats_to_text(node: object) -> None:
    """Replace floats in place by their repr text so Decimal sees 520.5, not 520.49999..."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, float):
                node[key] = repr(value)
            else:
                _floats_to_text(value)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, float):
                node[i] = repr(value)
            else:
                _floats_to_text(value)
