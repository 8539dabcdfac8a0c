"""Operator use cases (service layer of the admin API and CLI): registry, product systems, EPDs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from epd_common.db import transaction

from . import pcrs
from . import schemas as s
from .binding import BindingError, parse_binding
from .domain.lifecycle import Status
from .engine import LiveSystem, ProductSystemError, parse_system
from .errors import FootprintError
from .versions import NewVersion, create_version, expire_due

SERIES_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:epd:footprint-series")


class AdminError(FootprintError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def add_organisation(pool: asyncpg.Pool, o: s.OrganisationIn) -> dict:
    async with transaction(pool) as conn:
        await conn.execute(
            "INSERT INTO organisations (organisation_id, name, country, company_ids) VALUES ($1, $2, $3, $4)",
            o.organisation_id,
            o.name,
            o.country,
            o.company_ids,
        )
    return {"organisation_id": o.organisation_id}


async def add_plant(pool: asyncpg.Pool, p: s.PlantIn, by: str) -> dict:
    """`by`: the user id recorded as who registered the plant (separation of duties)."""
    async with transaction(pool) as conn:
        await conn.execute(
            """INSERT INTO plants (plant_id, organisation_id, name, province, grid_region, latitude, longitude,
                   registered_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            p.plant_id,
            p.organisation_id,
            p.name,
            p.province,
            p.grid_region,
            p.latitude,
            p.longitude,
            by,
        )
    return {"plant_id": p.plant_id}


def _key(raw: s.PlantKeyIn) -> bytes:
    try:
        return raw.key_bytes()
    except ValueError as exc:
        raise AdminError(422, "bad_public_key", str(exc)) from None


async def add_plant_key(pool: asyncpg.Pool, plant_id: str, k: s.PlantKeyIn) -> dict:
    key = _key(k)
    async with transaction(pool) as conn:
        await conn.execute(
            "INSERT INTO plant_keys (plant_id, key_id, public_key) VALUES ($1, $2, $3)", plant_id, k.key_id, key
        )
    return {"plant_id": plant_id, "key_id": k.key_id}


async def add_process(pool: asyncpg.Pool, p: s.ProcessIn) -> dict:
    async with transaction(pool) as conn:
        await conn.execute(
            "INSERT INTO processes (process_id, plant_id, name, stage, telemetry_backed) VALUES ($1, $2, $3, $4, $5)",
            p.process_id,
            p.plant_id,
            p.name,
            p.stage,
            p.telemetry_backed,
        )
    return {"process_id": p.process_id}


async def add_meter(pool: asyncpg.Pool, m: s.MeterIn) -> dict:
    """A meter; with `public_key`, its signer's key is registered for the meter's plant (key id = meter id)."""
    key = _key(s.PlantKeyIn(key_id=m.meter_id, public_key=m.public_key)) if m.public_key else None
    async with transaction(pool) as conn:
        await conn.execute(
            """INSERT INTO meters (meter_id, process_id, activity_kind, activity, unit, reading_kind, counter_modulus,
                   max_rate_per_hour, product_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            m.meter_id,
            m.process_id,
            m.activity_kind,
            m.activity,
            m.unit,
            m.reading_kind,
            m.counter_modulus,
            m.max_rate_per_hour,
            m.product_id,
        )
        if key is not None:
            plant = await conn.fetchval("SELECT plant_id FROM processes WHERE process_id = $1", m.process_id)
            await conn.execute(
                "INSERT INTO plant_keys (plant_id, key_id, public_key) VALUES ($1, $2, $3)", plant, m.meter_id, key
            )
    return {"meter_id": m.meter_id}


async def add_product(pool: asyncpg.Pool, p: s.ProductIn, by: str) -> dict:
    async with transaction(pool) as conn:
        await conn.execute(
            """INSERT INTO products (product_id, name, declared_unit, classifications, purity, organisation_id,
                   registered_by) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            p.product_id,
            p.name,
            p.declared_unit,
            list(p.classifications),
            p.purity,
            p.organisation_id,
            by,
        )
    return {"product_id": p.product_id}


async def add_product_system(pool: asyncpg.Pool, ps: s.ProductSystemIn) -> dict:
    """Validate with the engine (parse, bind, solve) and store the next version of the system."""
    try:
        system = parse_system(ps.document)
        binding = parse_binding(ps.binding, system)
        LiveSystem(system)  # solves: singular or inconsistent systems are refused here
    except ProductSystemError as exc:
        raise AdminError(422, f"product_system_{exc.reason.value}", str(exc)) from None
    except BindingError as exc:
        raise AdminError(422, "bad_binding", str(exc)) from None
    async with transaction(pool) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('footprint:' || $1, 0))", ps.system_id)
        products = sorted({binding.registry_product(p) for p in system.products})
        pcrs.check_system(system, binding, await pcrs.rules_of_products(conn, products))
        version = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM footprint_product_systems WHERE system_id = $1", ps.system_id
        )
        await conn.execute(
            """INSERT INTO footprint_product_systems (system_id, version, name, document, binding, factor_set_version)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            ps.system_id,
            version,
            system.name[:500],
            json.dumps(ps.document),
            json.dumps(binding.as_json()),
            binding.factor_set_version,
        )
        await conn.executemany(
            """INSERT INTO footprint_system_processes
                   (system_id, version, engine_process_id, process_id, telemetry_backed)
               VALUES ($1, $2, $3, $4, $5)""",
            [(ps.system_id, version, k, b.process_id, b.telemetry) for k, b in binding.processes.items()],
        )
    return {"system_id": ps.system_id, "version": version}


async def import_epd(pool: asyncpg.Pool, e: s.EpdImportIn) -> dict:
    """An existing EPD: its series and published version 1 with results, and an outbox row 'published'."""
    if ("A1-A3" not in e.results) or ("GWP-total" not in e.results["A1-A3"]):
        raise AdminError(422, "missing_result", "results must include A1-A3 GWP-total")
    if e.reference_period_end <= e.reference_period_start:
        raise AdminError(422, "bad_period", "reference_period_end must be after reference_period_start")
    if e.allocation_basis == "economic" and not e.allocation_price_basis:
        raise AdminError(422, "missing_price_basis", "economic allocation needs allocation_price_basis")
    for t in (e.reference_period_start, e.reference_period_end, e.valid_from):
        if t.tzinfo is None:
            raise AdminError(422, "naive_datetime", "datetimes need a timezone")
    series_id = uuid.uuid5(SERIES_NAMESPACE, f"{e.product_id}|{e.plant_id}")
    async with transaction(pool) as conn:
        pcr = await pcrs.get_version(conn, e.pcr_id, e.pcr_version)
        pcrs.check_import(pcr, e.declared_unit, e.gwp_set, e.allocation_basis, e.valid_from)
        for system, binding in await pcrs.current_systems(conn):
            pcrs.check_system(system, binding, {e.product_id: [pcr]})
        await conn.execute(
            """INSERT INTO epd_series (series_id, product_id, plant_id, pcr_id, pcr_version, programme_operator,
                   registration_number) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            series_id,
            e.product_id,
            e.plant_id,
            e.pcr_id,
            e.pcr_version,
            e.programme_operator,
            e.registration_number,
        )
        pf_id = await create_version(
            conn,
            NewVersion(
                series_id=series_id,
                status=Status.PUBLISHED,
                results={m: {str(i): v for i, v in r.items()} for m, r in e.results.items()},
                reason=e.reason,
                period_start=e.reference_period_start,
                period_end=e.reference_period_end,
                factor_set_version=e.factor_set_version,
                allocation_basis=e.allocation_basis,
                allocation_price_basis=e.allocation_price_basis,
                gwp_set=e.gwp_set,
                declared_unit=e.declared_unit,
                verifier=e.verifier,
                valid_from=e.valid_from,
            ),
            "published",
        )
    return {"series_id": str(series_id), "pf_id": str(pf_id), "version": 1}


async def set_policy(pool: asyncpg.Pool, p: s.PolicyIn) -> dict:
    if not 0 < p.threshold < 10:
        raise AdminError(422, "bad_threshold", "threshold is a fraction in (0, 10), e.g. 0.10 for 10 %")
    async with transaction(pool) as conn:
        await conn.execute(
            """INSERT INTO footprint_policies (scope, scope_id, threshold, consecutive, watch_deterioration,
                   watch_improvement) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, scope_id) DO UPDATE SET
                   threshold = excluded.threshold, consecutive = excluded.consecutive,
                   watch_deterioration = excluded.watch_deterioration, watch_improvement = excluded.watch_improvement,
                   updated_at = now()""",
            p.scope,
            p.scope_id,
            p.threshold,
            p.consecutive,
            p.watch_deterioration,
            p.watch_improvement,
        )
    return p.model_dump(mode="json")


async def drift_events(pool: asyncpg.Pool, product_id: str | None, limit: int) -> list[dict]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT drift_event_id, series_id, product_id, cause, origin_product_id, direction, percent, live_value,
                      published_value, reason, evidence, window_id, revision, pf_id, created_at
               FROM footprint_drift_events WHERE ($1::text IS NULL OR product_id = $1)
               ORDER BY drift_event_id LIMIT $2""",
            product_id,
            limit,
        )
    return [
        {
            **{k: (str(v) if v is not None and not isinstance(v, int | str) else v) for k, v in dict(r).items()},
            "evidence": json.loads(r["evidence"]),
        }
        for r in rows
    ]


async def version(pool: asyncpg.Pool, pf_id: uuid.UUID) -> dict:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT v.pf_id, v.series_id, v.version, v.status, v.preceding_pf_id, v.reason, v.verifier, "
            "v.valid_from, v.valid_until, v.decided_by, u.name AS decided_by_name, v.decision_reason "
            "FROM epd_versions v LEFT JOIN admin_users u ON u.user_id = v.decided_by WHERE v.pf_id = $1",
            pf_id,
        )
        if row is None:
            raise AdminError(404, "unknown_version", f"no EPD version {pf_id}")
        results = await conn.fetch("SELECT module, indicator, value FROM epd_results WHERE pf_id = $1", pf_id)
    out: dict[str, Any] = {
        k: (str(v) if v is not None and not isinstance(v, int | str) else v) for k, v in dict(row).items()
    }
    out["results"] = {f"{r['module']}|{r['indicator']}": str(r["value"]) for r in results}
    return out


async def expire_versions(pool: asyncpg.Pool, now: datetime | None = None) -> dict:
    async with transaction(pool) as conn:
        expired = await expire_due(conn, now or datetime.now(UTC))
    return {"expired": [str(x) for x in expired]}
