"""Register a plant's whole site in one transaction, idempotently (PUT /plants/{plant_id}/site).

The registry's one writer for what a plant's connector sends: the plant, its processes, the products
its output meters name, its meters and its signing key. What is missing is created; an existing row
equal to what the site describes is accepted; an existing row that differs refuses the whole request
with 409 `{code, message}` and nothing changes (a meter owned by another plant's process, a key id with
other key material, a process of another plant, ...). Rows the site does not mention are left alone.

Rows are inserted with ON CONFLICT DO NOTHING and then read back and compared, so a row another
transaction inserted meanwhile is judged like any existing one; registrations of one plant are
serialised by an advisory lock. Products are compared by name only: an operator may have registered
them first with more detail (classifications, purity) through POST /products.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from epd_common.db import transaction

from . import schemas as s
from .admin import AdminError


@dataclass(frozen=True)
class _Table:
    name: str
    what: str  # the row's name in messages
    columns: tuple[tuple[str, str], ...]  # (column, SQL type); the first is the primary key
    compared: tuple[str, ...] | None = None  # columns an existing row must equal (default: all)

    def insert_sql(self) -> str:
        cols = ", ".join(c for c, _ in self.columns)
        arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(self.columns, 1))
        key = self.columns[0][0]
        return (
            f"INSERT INTO {self.name} ({cols}) SELECT * FROM unnest({arrays})"
            f" ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
        )

    def select_sql(self) -> str:
        key = self.columns[0][0]
        return f"SELECT {', '.join(c for c, _ in self.columns)} FROM {self.name} WHERE {key} = ANY($1::text[])"


PLANTS = _Table(
    "plants",
    "plant",
    (
        ("plant_id", "text"),
        ("organisation_id", "text"),
        ("name", "text"),
        ("province", "text"),
        ("grid_region", "text"),
        ("latitude", "numeric"),
        ("longitude", "numeric"),
    ),
)
PROCESSES = _Table(
    "processes",
    "process",
    (("process_id", "text"), ("plant_id", "text"), ("name", "text"), ("stage", "text"), ("telemetry_backed", "bool")),
)
PRODUCTS = _Table(
    "products", "product", (("product_id", "text"), ("name", "text"), ("organisation_id", "text")), ("name",)
)
METERS = _Table(
    "meters",
    "meter",
    (
        ("meter_id", "text"),
        ("process_id", "text"),
        ("activity_kind", "text"),
        ("activity", "text"),
        ("unit", "text"),
        ("reading_kind", "text"),
        ("counter_modulus", "numeric"),
        ("max_rate_per_hour", "numeric"),
        ("reset_floor", "numeric"),
        ("interval_seconds", "int"),
        ("product_id", "text"),
    ),
)


def _shown(value: Any) -> str:
    text = "null" if value is None else str(value) if isinstance(value, Decimal | int | bool) else repr(value)
    return text if len(text) <= 100 else text[:100] + "..."


async def _ensure(conn: asyncpg.Connection, table: _Table, rows: list[tuple[Any, ...]]) -> list[str]:
    """Insert the rows whose key is missing, compare the others; returns the keys created."""
    if not rows:
        return []
    rows = sorted(rows, key=lambda r: r[0])  # one lock order for concurrent registrations
    columns = [list(col) for col in zip(*rows, strict=True)]
    created = {r[0] for r in await conn.fetch(table.insert_sql(), *columns)}
    others = [r[0] for r in rows if r[0] not in created]
    existing = {r[0]: r for r in await conn.fetch(table.select_sql(), others)} if others else {}
    names = [c for c, _ in table.columns]
    for row in rows:
        if row[0] in created:
            continue
        old = existing[row[0]]
        for name, given in zip(names, row, strict=True):
            if (table.compared is None or name in table.compared) and old[name] != given:
                raise AdminError(
                    409,
                    f"{table.what}_differs",
                    f"{table.what} {row[0]} is registered with {name} = {_shown(old[name])};"
                    f" the site gives {_shown(given)}",
                )
    return sorted(created)


async def _key(conn: asyncpg.Connection, plant_id: str, key_id: str, key: bytes) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO plant_keys (plant_id, key_id, public_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        " RETURNING key_id",
        plant_id,
        key_id,
        key,
    )
    if inserted is not None:
        return True
    old = await conn.fetchrow(
        "SELECT public_key, retired_at, revoked_at FROM plant_keys WHERE plant_id = $1 AND key_id = $2",
        plant_id,
        key_id,
    )
    if old is None:  # deleted meanwhile: the registry never deletes keys, so this is not expected
        raise AdminError(409, "key_changed", f"key {key_id} of plant {plant_id} changed during the registration")
    if bytes(old["public_key"]) != key:
        raise AdminError(
            409,
            "key_differs",
            f"key {key_id} of plant {plant_id} is registered with other key material; give a new key a new key id",
        )
    if old["revoked_at"] is not None:
        raise AdminError(
            409, "key_revoked", f"key {key_id} of plant {plant_id} was revoked; register a new key (rotate-key)"
        )
    if old["retired_at"] is not None:
        raise AdminError(
            409, "key_retired", f"key {key_id} of plant {plant_id} was retired; give a new key a new key id"
        )
    return False


async def register_site(pool: asyncpg.Pool, plant_id: str, site: s.SiteIn, by: str) -> dict:
    """`by`: the user id recorded as who registered the plant and products this creates."""
    try:
        key = site.key.key_bytes()
    except ValueError as exc:
        raise AdminError(422, "bad_public_key", str(exc)) from None
    org = site.organisation_id
    async with transaction(pool) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('site:' || $1, 0))", plant_id)
        if await conn.fetchval("SELECT 1 FROM organisations WHERE organisation_id = $1", org) is None:
            raise AdminError(404, "unknown_organisation", f"organisation {org} is not registered")
        plant_row = (plant_id, org, site.name, site.province, site.grid_region, site.latitude, site.longitude)
        plant = await _ensure(conn, PLANTS, [plant_row])
        processes = await _ensure(
            conn, PROCESSES, [(p.process_id, plant_id, p.name, p.stage, p.telemetry_backed) for p in site.processes]
        )
        products = await _ensure(conn, PRODUCTS, [(p.product_id, p.name, org) for p in site.products])
        named = {m.product_id for m in site.meters if m.product_id} - {p.product_id for p in site.products}
        if named:
            rows = await conn.fetch("SELECT product_id FROM products WHERE product_id = ANY($1)", sorted(named))
            found = {r[0] for r in rows}
            if missing := sorted(named - found):
                raise AdminError(
                    404,
                    "unknown_product",
                    f"meters name products that are not registered and the site does not describe"
                    f" (products: product_id, name): {', '.join(missing[:10])}",
                )
        meter_rows = [
            (
                m.meter_id,
                m.process_id,
                m.activity_kind,
                m.activity,
                m.unit,
                m.reading_kind,
                m.counter_modulus,
                m.max_rate_per_hour,
                m.reset_floor,
                m.interval_seconds,
                m.product_id,
            )
            for m in site.meters
        ]
        meters = await _ensure(conn, METERS, meter_rows)
        key_created = await _key(conn, plant_id, site.key.key_id, key)
        await conn.execute("UPDATE plants SET registered_by = $2 WHERE plant_id = ANY($1::text[])", plant, by)
        await conn.execute("UPDATE products SET registered_by = $2 WHERE product_id = ANY($1::text[])", products, by)
    return {
        "plant_id": plant_id,
        "created": {
            "plant": bool(plant),
            "processes": processes,
            "products": products,
            "meters": meters,
            "key": key_created,
        },
    }
