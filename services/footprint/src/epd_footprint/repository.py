"""SQL of the footprint service (asyncpg); every function runs in the caller's connection/transaction."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import asyncpg

from .domain.drift import Direction, DriftPolicy, DriftState, PolicyBook
from .snapshot import window_facts, window_json
from .store import DriftEvent, Evidence, PublishedSeries, StoredSystem
from .windows import LiveInventory, WindowFacts


async def lock_system(conn: asyncpg.Connection, system_id: str) -> None:
    """Serialise window application per product system across workers (transaction-scoped)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('footprint:' || $1, 0))", system_id)


async def current_system(conn: asyncpg.Connection, system_id: str) -> StoredSystem | None:
    row = await conn.fetchrow(
        """SELECT system_id, version, document, binding, factor_set_version FROM footprint_product_systems
           WHERE system_id = $1 ORDER BY version DESC LIMIT 1""",
        system_id,
    )
    return _system(row) if row else None


def _system(row: asyncpg.Record) -> StoredSystem:
    return StoredSystem(
        row["system_id"],
        row["version"],
        json.loads(row["document"]),
        json.loads(row["binding"]),
        row["factor_set_version"],
    )


async def current_version(conn: asyncpg.Connection, system_id: str) -> int | None:
    return await conn.fetchval("SELECT max(version) FROM footprint_product_systems WHERE system_id = $1", system_id)


async def systems_for_process(conn: asyncpg.Connection, process_id: str) -> list[str]:
    """Systems whose CURRENT version binds a telemetry-backed engine process to this registry process."""
    rows = await conn.fetch(
        """SELECT DISTINCT sp.system_id FROM footprint_system_processes sp
           WHERE sp.process_id = $1 AND sp.telemetry_backed
             AND sp.version = (SELECT max(version) FROM footprint_product_systems s WHERE s.system_id = sp.system_id)
           ORDER BY sp.system_id""",
        process_id,
    )
    return [r["system_id"] for r in rows]


async def process_plants(conn: asyncpg.Connection, process_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT process_id, plant_id FROM processes WHERE process_id = ANY($1)", process_ids)
    return {r["process_id"]: r["plant_id"] for r in rows}


async def mark_window(conn: asyncpg.Connection, facts: WindowFacts, outcome: str, detail: str = "") -> bool:
    """Record a window as seen; False when (window_id, revision) was already applied (a replay)."""
    done = await conn.fetchval(
        """INSERT INTO footprint_applied_windows (window_id, revision, process_id, window_start, window_end,
               merkle_root, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT DO NOTHING RETURNING true""",
        facts.window_id,
        facts.revision,
        facts.process_id,
        facts.start,
        facts.end,
        facts.merkle_root,
        outcome,
        detail[:1000],
    )
    return bool(done)


async def set_window_outcome(conn: asyncpg.Connection, facts: WindowFacts, outcome: str, detail: str = "") -> None:
    await conn.execute(
        "UPDATE footprint_applied_windows SET outcome = $3, detail = $4 WHERE window_id = $1 AND revision = $2",
        facts.window_id,
        facts.revision,
        outcome,
        detail[:1000],
    )


async def window_seen(conn: asyncpg.Connection, window_id: str, revision: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM footprint_applied_windows WHERE window_id = $1 AND revision = $2", window_id, revision
        )
    )


async def reject_record(
    conn: asyncpg.Connection, topic: str, partition: int, offset: int, reason: str, detail: str, payload: bytes | None
) -> None:
    await conn.execute(
        """INSERT INTO footprint_rejected_windows (topic, partition, "offset", reason, detail, payload)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        topic,
        partition,
        offset,
        reason,
        detail[:1000],
        payload[:65536] if payload else None,
    )


async def live_inventories(conn: asyncpg.Connection, system_id: str) -> dict[str, LiveInventory]:
    rows = await conn.fetch("SELECT * FROM footprint_live_inventories WHERE system_id = $1", system_id)
    return {r["engine_process_id"]: LiveInventory.from_row(r, json.loads(r["inventory"])) for r in rows}


async def live_bases(conn: asyncpg.Connection, system_id: str) -> dict[str, tuple[str, int]]:
    rows = await conn.fetch(
        "SELECT engine_process_id, window_id, revision FROM footprint_live_inventories WHERE system_id = $1", system_id
    )
    return {r["engine_process_id"]: (r["window_id"], r["revision"]) for r in rows}


async def save_live_inventory(conn: asyncpg.Connection, system_id: str, process: str, inv: LiveInventory) -> None:
    await conn.execute(
        """INSERT INTO footprint_live_inventories (system_id, engine_process_id, window_id, revision, window_size,
               window_start, window_end, merkle_root, inventory) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
           ON CONFLICT (system_id, engine_process_id) DO UPDATE SET window_id = excluded.window_id,
               revision = excluded.revision, window_size = excluded.window_size, window_start = excluded.window_start,
               window_end = excluded.window_end, merkle_root = excluded.merkle_root, inventory = excluded.inventory,
               updated_at = now()""",
        system_id,
        process,
        inv.window_id,
        inv.revision,
        inv.size,
        inv.start,
        inv.end,
        inv.merkle_root,
        json.dumps(inv.as_json()),
    )


async def save_window_totals(conn: asyncpg.Connection, facts: WindowFacts) -> None:
    doc = window_json(facts)
    await conn.execute(
        """INSERT INTO footprint_window_totals (window_id, revision, process_id, plant_id, window_size, window_start,
               window_end, merkle_root, activities, outputs) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
           ON CONFLICT DO NOTHING""",
        facts.window_id,
        facts.revision,
        facts.process_id,
        facts.plant_id,
        facts.size,
        facts.start,
        facts.end,
        facts.merkle_root,
        json.dumps(doc["activities"]),
        json.dumps(doc["outputs"]),
    )


WINDOW_TOTALS_SELECT = """SELECT window_id, revision, process_id, plant_id, window_size, window_start, window_end,
    merkle_root, activities, outputs FROM footprint_window_totals"""


def totals_doc(row: asyncpg.Record) -> dict[str, Any]:
    """A footprint_window_totals row as snapshot.window_json writes it."""
    return {
        "window_id": row["window_id"],
        "revision": row["revision"],
        "process_id": row["process_id"],
        "plant_id": row["plant_id"],
        "size": row["window_size"],
        "start": row["window_start"].isoformat(),
        "end": row["window_end"].isoformat(),
        "merkle_root": row["merkle_root"],
        "activities": json.loads(row["activities"]),
        "outputs": json.loads(row["outputs"]),
    }


async def window_totals(conn: asyncpg.Connection, keys: list[tuple[str, int]]) -> dict[tuple[str, int], WindowFacts]:
    if not keys:
        return {}
    rows = await conn.fetch(
        f"{WINDOW_TOTALS_SELECT} WHERE (window_id, revision) IN (SELECT * FROM unnest($1::text[], $2::int[]))",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["window_id"], r["revision"]): window_facts(totals_doc(r)) for r in rows}


async def published_series(conn: asyncpg.Connection, pairs: list[tuple[str, str | None]]) -> dict[str, PublishedSeries]:
    """Published series by registry product id; `pairs` = (product, plant or None for any single plant)."""
    if not pairs:
        return {}
    rows = await conn.fetch(
        """SELECT s.series_id, s.product_id, s.plant_id, s.pcr_id, v.pf_id, r.value, v.allocation_basis,
                  v.allocation_price_basis, v.gwp_set, v.declared_unit
           FROM epd_series s JOIN epd_versions v ON v.series_id = s.series_id AND v.status = 'published'
           JOIN epd_results r ON r.pf_id = v.pf_id AND r.module = 'A1-A3' AND r.indicator = 'GWP-total'
           WHERE s.product_id = ANY($1) ORDER BY s.product_id, s.plant_id""",
        [p for p, _ in pairs],
    )
    wanted = dict(pairs)
    found: dict[str, list[PublishedSeries]] = {}
    for r in rows:
        plant = wanted.get(r["product_id"])
        if plant is None or plant == r["plant_id"]:
            found.setdefault(r["product_id"], []).append(PublishedSeries(**dict(r)))
    return {p: s[0] for p, s in found.items() if len(s) == 1}


async def drift_states(
    conn: asyncpg.Connection, series_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[DriftState, list[Evidence]]]:
    rows = await conn.fetch("SELECT * FROM footprint_drift_state WHERE series_id = ANY($1) FOR UPDATE", series_ids)
    return {
        r["series_id"]: (
            DriftState(r["consecutive"], Direction(r["direction"]) if r["direction"] else None, r["flagged"]),
            json.loads(r["streak"]),
        )
        for r in rows
    }


async def save_drift_state(
    conn: asyncpg.Connection,
    series_id: uuid.UUID,
    state: DriftState,
    live: Decimal,
    percent: Decimal,
    streak: list[Evidence],
) -> None:
    await conn.execute(
        """INSERT INTO footprint_drift_state
               (series_id, consecutive, direction, flagged, last_live, last_percent, streak)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (series_id) DO UPDATE SET consecutive = excluded.consecutive,
               direction = excluded.direction, flagged = excluded.flagged, last_live = excluded.last_live,
               last_percent = excluded.last_percent, streak = excluded.streak, updated_at = now()""",
        series_id,
        state.consecutive,
        state.direction.value if state.direction else None,
        state.flagged,
        live,
        percent,
        json.dumps(streak),
    )


async def record_drift_event(conn: asyncpg.Connection, event: DriftEvent) -> None:
    await conn.execute(
        """INSERT INTO footprint_drift_events (series_id, product_id, cause, origin_product_id, direction, percent,
               live_value, published_value, reason, evidence, window_id, revision, pf_id)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)""",
        event.series_id,
        event.product_id,
        event.cause,
        event.origin,
        event.direction,
        event.percent,
        event.live,
        event.published,
        event.reason,
        json.dumps(event.evidence),
        event.window_id,
        event.revision,
        event.pf_id,
    )


async def policy_book(conn: asyncpg.Connection, default: DriftPolicy) -> PolicyBook:
    rows = await conn.fetch("SELECT * FROM footprint_policies")
    by: dict[str, dict[str, DriftPolicy]] = {"product": {}, "pcr": {}}
    for r in rows:
        by[r["scope"]][r["scope_id"]] = DriftPolicy(
            r["threshold"], r["consecutive"], r["watch_deterioration"], r["watch_improvement"]
        )
    return PolicyBook(default, by_pcr=by["pcr"], by_product=by["product"])
