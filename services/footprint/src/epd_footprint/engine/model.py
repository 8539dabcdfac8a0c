"""Declared product systems: products, background activities, unit processes (amounts as Decimal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


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
    name: str
    source: str
    factors: dict[str, Decimal]  # kg CO2e per kg gas

    def factor(self, gas: str) -> Decimal | None:
        return self.factors.get(gas, REFERENCE_GASES.get(gas))


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
