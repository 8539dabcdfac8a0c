"""Seed data for the portal tests: two companies, a value chain of two products, EPD series with a
published history, a drift that created a provisional version, a withdrawn and a rejected version,
evidence windows, outbox changes, a factor set and the programme's signing key (plain SQL)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.support.pcrs import register_pcrs

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PCR = "pcr-rare-earths"
ROOT = "ab" * 32


@dataclass
class Seeded:
    pf: dict[str, uuid.UUID] = field(default_factory=dict)
    series: dict[str, uuid.UUID] = field(default_factory=dict)


async def _org(conn, org: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO organisations (organisation_id, name, company_ids) VALUES ($1, $2, $3)",
        org,
        name,
        [f"urn:epd:company:cn:{org}"],
    )
    await conn.execute(
        "INSERT INTO plants (plant_id, organisation_id, name, province, grid_region, latitude, longitude) "
        "VALUES ($1, $2, $3, 'CN-NM', 'North', 40.6, 109.8)",
        f"plant-{org}",
        org,
        f"{name} plant",
    )


async def _series(conn, product: str, name: str, code: str, org: str) -> uuid.UUID:
    await conn.execute(
        "INSERT INTO products (product_id, name, classifications, organisation_id) VALUES ($1, $2, $3, $4)",
        product,
        name,
        [code],
        org,
    )
    series = uuid.uuid4()
    await conn.execute(
        "INSERT INTO epd_series (series_id, product_id, plant_id, pcr_id, pcr_version, programme_operator, "
        "registration_number) VALUES ($1, $2, $3, $4, '1.0', 'NREP', $5)",
        series,
        product,
        f"plant-{org}",
        PCR,
        f"EPD-CN-{product}",
    )
    return series


async def _version(
    conn, series: uuid.UUID, n: int, status: str, total: str, created: datetime, published: bool, preceding=None
) -> uuid.UUID:
    pf = uuid.uuid4()
    await conn.execute(
        """INSERT INTO epd_versions (pf_id, series_id, version, status, preceding_pf_id, declared_unit,
               reference_period_start, reference_period_end, factor_set_version, allocation_basis, verifier,
               valid_from, valid_until, reason, created_at, status_changed_at)
           VALUES ($1, $2, $3, $4, $5, 'kg', $6, $7, 'set-test', 'mass', $8, $9, $10, $11, $12, $12)""",
        pf,
        series,
        n,
        status,
        preceding,
        created - timedelta(days=30),
        created,
        "CQC" if published else None,
        created if published else None,
        created + timedelta(days=5 * 365) if published else None,
        "imported EPD" if n == 1 else "drift: A1-A3 GWP-total +14% (deterioration)",
        created,
    )
    value = Decimal(total)
    rows = [
        ("A1", "GWP-total", value * Decimal("0.6")),
        ("A2", "GWP-total", value * Decimal("0.1")),
        ("A3", "GWP-total", value * Decimal("0.3")),
        ("A1-A3", "GWP-total", value),
        ("A1-A3", "GWP-fossil", value - Decimal("0.1")),
        ("A1-A3", "GWP-biogenic", Decimal("0.1")),
    ]
    await conn.executemany(
        "INSERT INTO epd_results (pf_id, module, indicator, value) VALUES ($1, $2, $3, $4)",
        [(pf, m, i, v) for m, i, v in rows],
    )
    return pf


async def _change(conn, pf: uuid.UUID, product: str, kind: str, when: datetime) -> None:
    seq = await conn.fetchval(
        "SELECT coalesce(max(product_sequence), 0) + 1 FROM outbox WHERE product_id = $1", product
    )
    await conn.execute(
        "INSERT INTO outbox (event_id, product_id, product_sequence, pf_id, version, change_type, payload, created_at) "
        "VALUES ($1, $2, $3, $4, 1, $5, '\\x00', $6)",
        uuid.uuid4(),
        product,
        seq,
        pf,
        kind,
        when,
    )


async def seed(conn) -> Seeded:
    out = Seeded()
    await register_pcrs(conn, (PCR, "1.0"))
    await _org(conn, "org-a", "Baotou Rare Earth (test)")
    await _org(conn, "org-b", "Ganzhou Magnets (test)")
    out.series["oxide"] = s = await _series(conn, "nd-oxide", "Neodymium oxide", "hs:2846.90", "org-a")
    out.pf["oxide-1"] = v1 = await _version(conn, s, 1, "deprecated", "40.0", T0, True)
    out.pf["oxide-2"] = v2 = await _version(conn, s, 2, "published", "45.6", T0 + timedelta(days=10), True, v1)
    out.pf["oxide-3"] = v3 = await _version(conn, s, 3, "provisional", "52.0", T0 + timedelta(days=20), False, v2)
    for pf, kind, day in ((v1, "published", 0), (v2, "created", 9), (v2, "published", 10), (v1, "deprecated", 10)):
        await _change(conn, pf, "nd-oxide", kind, T0 + timedelta(days=day))
    await _change(conn, v3, "nd-oxide", "created", T0 + timedelta(days=20))
    for pf, day, live in ((v2, 9, "45.6"), (v3, 20, "52.0")):
        await conn.execute(
            """INSERT INTO footprint_drift_events (series_id, product_id, cause, origin_product_id, direction,
                   percent, live_value, published_value, reason, evidence, window_id, revision, pf_id, created_at)
               VALUES ($1, 'nd-oxide', 'drift', 'nd-oxide', 'deterioration', 14, $2, 40, 'drift', '[]', 'w-1', 0,
                       $3, $4)""",
            s,
            Decimal(live),
            pf,
            T0 + timedelta(days=day),
        )
    await conn.execute(
        "INSERT INTO epd_evidence (pf_id, window_id, revision, merkle_root) VALUES ($1, 'w-1', 0, $2)", v2, ROOT
    )
    await conn.execute(
        "INSERT INTO footprint_applied_windows (window_id, revision, process_id, window_start, window_end, "
        "merkle_root, outcome) VALUES ('w-1', 0, 'plant-org-a/separation', $1, $2, $3, 'applied')",
        T0,
        T0 + timedelta(hours=1),
        ROOT,
    )
    out.series["magnet"] = m = await _series(conn, "magnet", "Sintered NdFeB magnet", "hs:8505.11", "org-b")
    out.pf["magnet-1"] = await _version(conn, m, 1, "published", "30.5", T0, True)
    out.series["metal"] = w = await _series(conn, "nd-metal", "Neodymium metal", "hs:2805.30", "org-b")
    out.pf["metal-1"] = await _version(conn, w, 1, "withdrawn", "35.0", T0, True)
    out.series["carbonate"] = c = await _series(conn, "carbonate", "Mixed carbonate", "hs:2846.90", "org-a")
    out.pf["carbonate-1"] = await _version(conn, c, 1, "withdrawn", "9.0", T0, False)  # rejected before publication
    document = {
        "format": "epd-product-system/1",
        "processes": [
            {
                "id": "b/magnet",
                "outputs": [{"product": "magnet", "amount": 1}],
                "inputs": [{"product": "nd-metal", "amount": 0.3, "unit": "kg"}],
            },
            {
                "id": "b/metal",
                "outputs": [{"product": "nd-metal", "amount": 1}],
                "inputs": [{"product": "nd-oxide", "amount": 1.17, "unit": "kg"}],
            },
        ],
    }
    await conn.execute(
        "INSERT INTO footprint_product_systems (system_id, version, document, binding, factor_set_version) "
        "VALUES ('chain', 1, $1::jsonb, '{}'::jsonb, 'set-test')",
        json.dumps(document),
    )
    await conn.execute(
        "INSERT INTO factor_sets (version, windows_from, default_gwp_set, year_fallback_max, content_sha256) "
        "VALUES ('set-test', $1, 'AR6', 1, $2)",
        T0,
        "cd" * 32,
    )
    await conn.execute(
        "INSERT INTO emission_factors (set_version, factor_id, activity, source, unit, region, year_from, year_to, "
        "co2e, citation) VALUES ('set-test', 'grid-nm', 'electricity.grid', 'MEE', 'kWh', 'CN-NM', 2022, 2022, "
        "0.6849, 'MEE/NBS 2022 provincial grid factor, Inner Mongolia')"
    )
    return out
