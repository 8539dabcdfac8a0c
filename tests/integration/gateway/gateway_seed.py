"""Seed data for the gateway integration tests: two organisations, two partners with different
recognition agreements, products, EPD series and versions with results (plain SQL, real PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.support.pcrs import register_pcrs

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PCR = ("PCR-RE-2025", "1.2")
ORGS = {
    "org-a": ("Baotou Rare Earth Refining Co., Ltd.", ["urn:pact:company:cn-uscc:91150200MA0N0XYZ1K"], "CN-NM"),
    "org-b": ("Ganzhou Magnet Works", ["urn:pact:company:cn-uscc:91360700MA35ABCD2Q"], "CN-JX"),
}
OXIDE, MAGNET = "hs:2846.90", "hs:8505.11"


def agreement(partner_id: str, classes: list[str], provisional: bool = False) -> dict:
    return {
        "partner_id": partner_id,
        "product_classes": classes,
        "pcrs": [{"pcr_id": PCR[0]}],
        "standards": ["EN 15804+A2"],
        "accepts_provisional": provisional,
    }


async def base(conn) -> None:
    await register_pcrs(conn, PCR)
    for org, (name, ids, province) in ORGS.items():
        await conn.execute(
            "INSERT INTO organisations (organisation_id, name, company_ids) VALUES ($1, $2, $3)", org, name, ids
        )
        await conn.execute(
            "INSERT INTO plants (plant_id, organisation_id, name, province, grid_region) "
            "VALUES ($1, $2, $3, $4, 'North')",
            f"plant-{org}",
            org,
            f"{name} plant",
            province,
        )
    for pid, classes in (("partner-a", [OXIDE]), ("partner-b", [MAGNET]), ("partner-all", [OXIDE, MAGNET])):
        await conn.execute(
            "INSERT INTO partners (partner_id, name, country, agreement) VALUES ($1, $1, 'DE', $2::jsonb)",
            pid,
            json.dumps(agreement(pid, classes)),
        )


async def add_product(conn, product_id: str, classification: str, org: str = "org-a") -> uuid.UUID:
    await conn.execute(
        "INSERT INTO products (product_id, name, classifications, organisation_id) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        product_id,
        f"Product {product_id}",
        [classification],
        org,
    )
    series = uuid.uuid4()
    await conn.execute(
        """INSERT INTO epd_series (series_id, product_id, plant_id, pcr_id, pcr_version,
                          programme_operator, registration_number) VALUES ($1, $2, $3, $4, $5, 'NREP', $6)""",
        series,
        product_id,
        f"plant-{org}",
        PCR[0],
        PCR[1],
        f"REG-{series}",
    )
    return series


async def add_version(
    conn,
    series: uuid.UUID,
    version: int = 1,
    status: str = "published",
    preceding: uuid.UUID | None = None,
    valid_from: datetime | None = T0,
    valid_until: datetime | None = T0 + timedelta(days=5 * 365),
    total: str = "31.2",
    created_at: datetime | None = None,
) -> uuid.UUID:
    pf = uuid.uuid4()
    await conn.execute(
        """
        INSERT INTO epd_versions (pf_id, series_id, version, status, preceding_pf_id, declared_unit,
            reference_period_start, reference_period_end, factor_set_version, allocation_basis, verifier,
            valid_from, valid_until, reason, created_at)
        VALUES ($1, $2, $3, $4, $5, '1 kg', $6, $7, 'cn-2023.1', 'mass', 'CQC', $8, $9, 'test',
                coalesce($10, now()))""",
        pf,
        series,
        version,
        status,
        preceding,
        T0 - timedelta(days=365),
        T0,
        valid_from,
        valid_until,
        created_at,
    )
    fossil = Decimal(total) - Decimal("0.2")
    await conn.executemany(
        "INSERT INTO epd_results (pf_id, module, indicator, value) VALUES ($1, 'A1-A3', $2, $3)",
        [(pf, "GWP-total", Decimal(total)), (pf, "GWP-fossil", fossil)],
    )
    return pf


async def publish_new_version(conn, series: uuid.UUID, old: uuid.UUID, version: int) -> uuid.UUID:
    """What the footprint service does on re-verification: deprecate the old, publish the new."""
    async with conn.transaction():
        await conn.execute("UPDATE epd_versions SET status = 'deprecated' WHERE pf_id = $1", old)
        return await add_version(conn, series, version, preceding=old)
