"""Product category rules (PCR): the admin model, the use cases (add a PCR, add a version, read them)
and the engine's view of one version (engine/pcr.py checks product systems against it).

A PCR version is immutable once registered (table `pcrs`, migration 0007): a change is a new version,
numbered above every earlier one (dotted numeric, as recognition agreements compare them). EPD series
are bound to one version; product systems whose products break their series' PCR are refused.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import asyncpg
import yaml
from pydantic import Field, ValidationError, model_validator

from epd_common.db import transaction

from . import schemas as s
from .binding import Binding, parse_binding
from .engine import CategoryRule, ProductSystemError, check_pcr, parse_system
from .engine.model import AllocationMethod, ProductSystem
from .engine.units import check_unit, conversion_factor
from .errors import FootprintError

VERSION_PATTERN = r"^\d{1,9}(\.\d{1,9}){0,5}$"
# EN 15804+A2 modules a PCR may require (the engine computes A1, A2, A3 and A1-A3 only).
Module = Literal[
    "A1", "A2", "A3", "A1-A3", "A4", "A5", "B1", "B2", "B3", "B4", "B5", "B6", "B7", "C1", "C2", "C3", "C4", "D"
]
StandardName = Literal["EN 15804+A2", "ISO 14025", "ISO 14067"]


class PcrError(FootprintError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class DeclaredUnitIn(s.Model):
    amount: s.Positive
    unit: Annotated[str, Field(min_length=1, max_length=20)]


class PcrVersionIn(s.Model):
    """One version of a PCR (POST /pcrs/{pcr_id}/versions); POST /pcrs takes it with its pcr_id."""

    version: Annotated[str, Field(pattern=VERSION_PATTERN)]
    name: s.Text
    operator: Literal["PEF", "EPD International", "Other"] = "Other"
    operator_name: s.Text
    valid_from: date
    valid_until: date
    declared_unit: DeclaredUnitIn = DeclaredUnitIn(amount=Decimal(1), unit="kg")
    modules: list[Module] = Field(min_length=1, max_length=17)
    cut_off_rule: Annotated[str, Field(min_length=1, max_length=2000)]
    allocation_methods: list[Literal["mass", "economic", "explicit"]] = Field(default_factory=list, max_length=3)
    gwp_set: Literal["AR4", "AR5", "AR6"]
    standards: list[StandardName] = Field(min_length=1, max_length=3)

    @model_validator(mode="after")
    def _consistent(self) -> PcrVersionIn:
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        try:
            check_unit(self.declared_unit.unit, "declared_unit.unit")
        except ProductSystemError as exc:
            raise ValueError(exc.message) from None
        for what, items in (("modules", self.modules), ("standards", self.standards)):
            if len(set(items)) != len(items):
                raise ValueError(f"{what} are listed twice")
        return self


class PcrIn(PcrVersionIn):
    pcr_id: s.Id


def category_rule(pcr: PcrVersionIn | dict[str, Any], pcr_id: str = "") -> CategoryRule:
    """The engine's view of a PCR version (a model or a `pcrs` row as a dict)."""
    if isinstance(pcr, dict):
        return CategoryRule(
            pcr_id=pcr["pcr_id"],
            version=pcr["version"],
            declared_amount=Decimal(pcr["declared_unit_amount"]),
            declared_unit=pcr["declared_unit"],
            modules=tuple(pcr["modules"]),
            allocation_methods=frozenset(AllocationMethod(m) for m in pcr["allocation_methods"]),
            gwp_set=pcr["gwp_set"],
        )
    return CategoryRule(
        pcr_id=pcr.pcr_id if isinstance(pcr, PcrIn) else pcr_id,
        version=pcr.version,
        declared_amount=pcr.declared_unit.amount,
        declared_unit=pcr.declared_unit.unit,
        modules=tuple(pcr.modules),
        allocation_methods=frozenset(AllocationMethod(m) for m in pcr.allocation_methods),
        gwp_set=pcr.gwp_set,
    )


def read_pcr(path: Path) -> PcrIn:
    """A PCR document (YAML or JSON, the body of POST /pcrs); ProductSystemError-free, PcrError on bad input."""
    try:
        text = path.read_text(encoding="utf-8")
        return PcrIn.model_validate(json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise PcrError(422, "bad_pcr", f"cannot read PCR {path}: {reason}") from None


def version_key(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


PCR_COLUMNS = (
    "pcr_id, version, name, operator, operator_name, valid_from, valid_until, declared_unit_amount, "
    "declared_unit, modules, cut_off_rule, allocation_methods, gwp_set, standards, created_at"
)


def _json(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["declared_unit"] = {"amount": str(out.pop("declared_unit_amount")), "unit": out["declared_unit"]}
    for k in ("valid_from", "valid_until", "created_at"):
        out[k] = out[k].isoformat()
    return out


async def add_version(pool: asyncpg.Pool, pcr_id: str, body: PcrVersionIn, *, new: bool) -> dict[str, Any]:
    """Register a version: `new` for a PCR id not seen before (POST /pcrs), else its next version."""
    async with transaction(pool) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('pcr:' || $1, 0))", pcr_id)
        known = [r["version"] for r in await conn.fetch("SELECT version FROM pcrs WHERE pcr_id = $1", pcr_id)]
        if new and known:
            raise PcrError(409, "pcr_exists", f"PCR {pcr_id} exists; add a version with POST /pcrs/{pcr_id}/versions")
        if not new and not known:
            raise PcrError(404, "unknown_pcr", f"no PCR {pcr_id}; register it with POST /pcrs")
        latest = max(known, key=version_key, default=None)
        if latest is not None and version_key(body.version) <= version_key(latest):
            raise PcrError(
                409, "version_not_newer", f"PCR {pcr_id} is at version {latest}; {body.version} is not newer"
            )
        row = await conn.fetchrow(
            f"""INSERT INTO pcrs (pcr_id, version, name, operator, operator_name, valid_from, valid_until,
                   declared_unit_amount, declared_unit, modules, cut_off_rule, allocation_methods, gwp_set, standards)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING {PCR_COLUMNS}""",
            pcr_id,
            body.version,
            body.name,
            body.operator,
            body.operator_name,
            body.valid_from,
            body.valid_until,
            body.declared_unit.amount,
            body.declared_unit.unit,
            list(body.modules),
            body.cut_off_rule,
            list(body.allocation_methods),
            body.gwp_set,
            list(body.standards),
        )
    assert row is not None  # INSERT ... RETURNING gives the row
    return _json(row)


async def list_pcrs(pool: asyncpg.Pool, pcr_id: str | None = None) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT {PCR_COLUMNS} FROM pcrs WHERE ($1::text IS NULL OR pcr_id = $1) ORDER BY pcr_id, created_at",
        pcr_id,
    )
    if pcr_id is not None and not rows:
        raise PcrError(404, "unknown_pcr", f"no PCR {pcr_id}")
    return [_json(r) for r in rows]


async def get_version(conn: asyncpg.Connection | asyncpg.Pool, pcr_id: str, version: str) -> dict[str, Any]:
    """A PCR version as a row dict (category_rule takes it); PcrError 404 when it is not registered."""
    row = await conn.fetchrow(f"SELECT {PCR_COLUMNS} FROM pcrs WHERE pcr_id = $1 AND version = $2", pcr_id, version)
    if row is None:
        raise PcrError(404, "unknown_pcr", f"PCR {pcr_id} version {version} is not registered (POST /pcrs)")
    return dict(row)


async def rules_of_products(conn: asyncpg.Connection, products: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The PCR versions the EPD series of these registry products are bound to (by product)."""
    rows = await conn.fetch(
        f"""SELECT s.product_id AS series_product, {", ".join("r." + c for c in PCR_COLUMNS.split(", "))}
            FROM epd_series s JOIN pcrs r ON r.pcr_id = s.pcr_id AND r.version = s.pcr_version
            WHERE s.product_id = ANY($1) ORDER BY s.product_id, r.pcr_id, r.version""",
        products,
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["series_product"], []).append(dict(r))
    return out


def check_system(system: ProductSystem, binding: Binding, rules: dict[str, list[dict[str, Any]]]) -> None:
    """Refuse (PcrError 422, code product_system_pcr_*) a system one of whose products breaks its PCR."""
    for product in system.products:
        for rule in rules.get(binding.registry_product(product), ()):
            try:
                check_pcr(system, product, category_rule(rule))
            except ProductSystemError as exc:
                raise PcrError(422, f"product_system_{exc.reason.value}", str(exc)) from None


async def current_systems(conn: asyncpg.Connection) -> list[tuple[ProductSystem, Binding]]:
    """The current version of every stored product system, parsed."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (system_id) document, binding FROM footprint_product_systems
           ORDER BY system_id, version DESC"""
    )
    out = []
    for r in rows:
        system = parse_system(json.loads(r["document"]))
        out.append((system, parse_binding(json.loads(r["binding"]), system)))
    return out


def check_import(pcr: dict[str, Any], declared_unit: str, gwp_set: str, allocation: str, valid_from: datetime) -> None:
    """An imported EPD's own fields against its PCR version (PcrError 422 naming the rule broken)."""
    label = f"PCR {pcr['pcr_id']} {pcr['version']}"
    amount, _, unit = declared_unit.strip().rpartition(" ")
    try:
        same = Decimal(amount or "1") * Decimal(repr(conversion_factor(unit, pcr["declared_unit"]))) == Decimal(
            pcr["declared_unit_amount"]
        )
    except (ProductSystemError, ArithmeticError):
        same = False
    if not same:
        raise PcrError(
            422,
            "pcr_declared_unit",
            f"declared unit {declared_unit!r}; {label} requires {pcr['declared_unit_amount']} {pcr['declared_unit']}",
        )
    if gwp_set != pcr["gwp_set"]:
        raise PcrError(422, "pcr_gwp_set", f"GWP set {gwp_set}; {label} requires {pcr['gwp_set']}")
    if allocation != "none" and allocation not in pcr["allocation_methods"]:
        allowed = ", ".join(pcr["allocation_methods"]) or "none"
        raise PcrError(422, "pcr_allocation", f"{allocation} allocation; {label} allows: {allowed}")
    if not pcr["valid_from"] <= valid_from.date() < pcr["valid_until"]:
        raise PcrError(
            422,
            "pcr_not_valid",
            f"{label} is valid from {pcr['valid_from']} until {pcr['valid_until']}, not on {valid_from.date()}",
        )
