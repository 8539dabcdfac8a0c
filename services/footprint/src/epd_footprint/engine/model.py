"""Declared product systems: products, background activities, unit processes (amounts as Decimal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Origin(StrEnum):
    """Carbon origin, one EN 15804+A2 GWP sub-indicator each (GWP-total is their sum)."""

    FOSSIL = "fossil"
    BIOGENIC = "biogenic"
    LULUC = "luluc"


class Category(StrEnum):
    """What a background activity is; decides its EN 15804 module when the gate process uses it."""

    MATERIAL = "material"  # raw material supply: A1 even at the gate
    ANCILLARY = "ancillary"  # reagents, auxiliaries: A3 at the gate
    ENERGY = "energy"  # A3 at the gate
    TRANSPORT = "transport"  # A2 at the gate
    WASTE = "waste"  # A3 at the gate
    OTHER = "other"  # A3 at the gate


class AllocationMethod(StrEnum):
    NONE = "none"  # single-output process
    MASS = "mass"
    ECONOMIC = "economic"
    EXPLICIT = "explicit"


# Gases that need no entry in a GWP table: CO2 is the reference gas; "CO2e" marks an already
# characterised amount (kg CO2-eq), as many background datasets give it.
REFERENCE_GASES = {"CO2": Decimal(1), "CO2e": Decimal(1)}


@dataclass(frozen=True)
class GwpSet:
    """GWP-100 factors by gas and origin: key `GAS/origin` (e.g. `CH4/fossil`) where the origin matters,
    plain `GAS` for every origin. A built-in set (gwp_sets.py) or a table given in the file."""

    name: str
    source: str
    factors: dict[str, Decimal]  # kg CO2e per kg gas
    basis: str = ""  # the IPCC report the values follow (e.g. "AR6"): what a PCR names
    unchecked: tuple[str, ...] = ()  # keys whose values are not among the checked references

    def key_for(self, gas: str, origin: Origin) -> str | None:
        """The table key that characterises this gas of this origin (origin-specific first)."""
        for key in (f"{gas}/{origin.value}", gas):
            if key in self.factors:
                return key
        return None

    def factor(self, gas: str, origin: Origin) -> Decimal | None:
        key = self.key_for(gas, origin)
        return self.factors[key] if key is not None else REFERENCE_GASES.get(gas)

    def gases(self) -> set[str]:
        return {key.partition("/")[0] for key in self.factors} | set(REFERENCE_GASES)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "basis": self.basis or self.name,
            "source": self.source,
            "factors": {k: str(v) for k, v in sorted(self.factors.items())},
        }


@dataclass(frozen=True)
class Product:
    id: str
    unit: str  # unit in which inventories count this product
    declared_amount: Decimal  # the declared unit, e.g. 1 ...
    declared_unit: str  # ... kg
    name: str = ""
    classification: str | None = None
    # Several processes (plants) make this product: their shares of the supply (sum 1).
    supply_mix: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class GasFactor:
    gas: str
    origin: Origin
    amount: Decimal  # kg gas (or kg CO2e for gas "CO2e") per unit of the activity


@dataclass(frozen=True)
class BackgroundActivity:
    id: str
    unit: str
    category: Category
    emissions: tuple[GasFactor, ...]
    source: str | None
    default: bool
    name: str = ""


@dataclass(frozen=True)
class Exchange:
    """An input of a process: a foreground product or a background activity."""

    ref: str
    is_product: bool
    amount: Decimal
    unit: str


@dataclass(frozen=True)
class Emission:
    gas: str
    origin: Origin
    amount: Decimal
    unit: str


@dataclass(frozen=True)
class Price:
    amount: Decimal
    currency: str
    unit: str  # price per this unit of the product


@dataclass(frozen=True)
class Output:
    product: str
    amount: Decimal
    unit: str


@dataclass(frozen=True)
class Allocation:
    method: AllocationMethod
    factors: dict[str, Decimal] = field(default_factory=dict)  # explicit
    prices: dict[str, Price] = field(default_factory=dict)  # economic
    price_basis: str | None = None  # e.g. "Asian Metal Baotou ex-works, monthly average"
    period: str | None = None  # e.g. "2023-01/2023-12"


@dataclass(frozen=True)
class Process:
    """A unit process; every amount is per one run, which makes `outputs` as declared."""

    id: str
    outputs: tuple[Output, ...]
    inputs: tuple[Exchange, ...] = ()
    emissions: tuple[Emission, ...] = ()
    allocation: Allocation = field(default_factory=lambda: Allocation(AllocationMethod.NONE))
    name: str = ""
    plant: str | None = None


@dataclass(frozen=True)
class ProductSystem:
    name: str
    gwp: GwpSet
    products: dict[str, Product]
    background: dict[str, BackgroundActivity]
    processes: dict[str, Process]
