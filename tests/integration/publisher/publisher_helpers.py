"""Helpers for the publisher's integration tests: registry rows, and a commit that mimics the footprint
service's transaction (next product sequence under the outbox_sequences row lock, deprecate the
previous published version, insert the new version and its outbox row in one transaction)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from datetime import UTC, datetime

import asyncpg
from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import footprint_pb2, intensity_pb2
from epd_common import signing_keys
from epd_publisher.endpoint_secrets import EndpointSecrets
from epd_publisher.rendering import SignedRecords, key_ring
from epd_records.party import ProgrammeInfo
from epd_records.signing import KeyRing, new_stored_key
from tests.support.pcrs import register_pcrs

ORG = "org-baotou"
PLANT = "baotou-1"
MAGNET = ("hs:8505.11",)
OXIDE = ("hs:2846.90",)
SECRET_KEY = "integration-test-publisher-secret-key"  # EPD_PUBLISHER_SECRET_KEY of these tests
RECORDS_KEY_SECRET = "integration-test-key-secret"  # EPD_RECORDS_KEY_SECRET (the gateway tests' too)
PROGRAMME = ProgrammeInfo(operator_name="National Rare-Earth EPD Programme")


@functools.cache
def endpoint_secrets() -> EndpointSecrets:
    return EndpointSecrets(SECRET_KEY)


class _Keys:
    """The programme's keys in this database, the first one created on first use (as services do)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.ready = pool, False
        self.cached = signing_keys.CachedKeys(pool, RECORDS_KEY_SECRET, 0, key_ring)

    async def get(self) -> KeyRing:
        if not self.ready:
            await signing_keys.ensure(self.pool, RECORDS_KEY_SECRET, new_stored_key)
            self.ready = True
        return await self.cached.get()


def signed_records(pool: asyncpg.Pool) -> SignedRecords:
    """The sender's records, signed with the programme's record-signing keys in this database."""
    return SignedRecords(PROGRAMME, _Keys(pool))


def _ts(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


async def seed_registry(pool: asyncpg.Pool) -> None:
    await register_pcrs(pool, ("PCR-magnets", "1.0"), ("PCR-other", "1.0"))
    await pool.execute(
        """INSERT INTO organisations (organisation_id, name, company_ids)
           VALUES ($1, 'Baotou Rare Earth Refining Co., Ltd.', ARRAY['urn:pact:company:cn-uscc:91150200MA0N0XYZ1K'])
           ON CONFLICT DO NOTHING""",
        ORG,
    )
    await pool.execute(
        """INSERT INTO plants (plant_id, organisation_id, name, province, grid_region)
           VALUES ($1, $2, 'Baotou plant 1', 'Inner Mongolia', 'North') ON CONFLICT DO NOTHING""",
        PLANT,
        ORG,
    )


async def add_product(
    pool: asyncpg.Pool, product_id: str, classifications=MAGNET, pcr: tuple[str, str] = ("PCR-magnets", "1.0")
) -> None:
    await register_pcrs(pool, pcr)  # every series names a registered PCR version
    await pool.execute(
        """INSERT INTO products (product_id, name, classifications, organisation_id) VALUES ($1, $2, $3, $4)""",
        product_id,
        f"product {product_id}",
        list(classifications),
        ORG,
    )
    await pool.execute(
        """INSERT INTO epd_series (series_id, product_id, plant_id, pcr_id, pcr_version, programme_operator,
                                   registration_number)
           VALUES ($1, $2, $3, $4, $5, 'National Rare-Earth EPD Programme', $6)""",
        uuid.uuid4(),
        product_id,
        PLANT,
        pcr[0],
        pcr[1],
        f"CN-REEPD-{product_id}",
    )


def footprint(
    pf_id: uuid.UUID,
    product_id: str,
    version: int,
    series: asyncpg.Record,
    classifications,
    preceding: uuid.UUID | None,
) -> footprint_pb2.FootprintVersion:
    fv = footprint_pb2.FootprintVersion(
        pf_id=f"urn:uuid:{pf_id}",
        series_id=str(series["series_id"]),
        product_id=product_id,
        plant_id=PLANT,
        version=version,
        status=footprint_pb2.FOOTPRINT_STATUS_PUBLISHED,
        declared_unit="1 kg",
        factor_set_version="cn-2023.1",
        allocation_basis=intensity_pb2.ALLOCATION_BASIS_MASS,
        pcr_id=series["pcr_id"],
        pcr_version=series["pcr_version"],
        verifier="CQC",
        programme_operator="National Rare-Earth EPD Programme",
        reason="test version",
        registration_number=series["registration_number"],
        product_name=f"product {product_id}",
        classifications=list(classifications),
        organisation_id=ORG,
        organisation_name="Baotou Rare Earth Refining Co., Ltd.",
        company_ids=["urn:pact:company:cn-uscc:91150200MA0N0XYZ1K"],
        geography="CN",
        preceding_pf_ids=[f"urn:uuid:{preceding}"] if preceding else [],
    )
    fv.reference_period_start.CopyFrom(_ts(datetime(2025, 1, 1, tzinfo=UTC)))
    fv.reference_period_end.CopyFrom(_ts(datetime(2026, 1, 1, tzinfo=UTC)))
    fv.valid_from.CopyFrom(_ts(datetime(2026, 2, 1, tzinfo=UTC)))
    fv.valid_until.CopyFrom(_ts(datetime(2031, 2, 1, tzinfo=UTC)))
    fv.created_at.CopyFrom(_ts(datetime.now(UTC)))
    values = {
        footprint_pb2.INDICATOR_GWP_FOSSIL: ("20.5", "0.5", "8.25"),
        footprint_pb2.INDICATOR_GWP_BIOGENIC: ("0", "0", "0"),
        footprint_pb2.INDICATOR_GWP_LULUC: ("0", "0", "0"),
        footprint_pb2.INDICATOR_GWP_TOTAL: ("20.5", "0.5", "8.25"),
    }
    modules = (
        footprint_pb2.LIFE_CYCLE_MODULE_A1,
        footprint_pb2.LIFE_CYCLE_MODULE_A2,
        footprint_pb2.LIFE_CYCLE_MODULE_A3,
    )
    for indicator, parts in values.items():
        for module, value in zip(modules, parts, strict=True):
            fv.results.add(module=module, indicator=indicator, value=value, unit="kg CO2e")
        total = sum(float(p) for p in parts)
        fv.results.add(
            module=footprint_pb2.LIFE_CYCLE_MODULE_A1_A3, indicator=indicator, value=f"{total:.2f}", unit="kg CO2e"
        )
    return fv


async def commit_version(pool: asyncpg.Pool, product_id: str, hold: asyncio.Event | None = None) -> tuple[int, int]:
    """One footprint-service-like transaction; returns (product_sequence, version)."""
    async with pool.acquire() as conn, conn.transaction():
        seq = await conn.fetchval(
            """INSERT INTO outbox_sequences (product_id, last_sequence) VALUES ($1, 1)
               ON CONFLICT (product_id) DO UPDATE SET last_sequence = outbox_sequences.last_sequence + 1
               RETURNING last_sequence""",
            product_id,
        )
        series = await conn.fetchrow("SELECT * FROM epd_series WHERE product_id = $1", product_id)
        classes = await conn.fetchval("SELECT classifications FROM products WHERE product_id = $1", product_id)
        prev = await conn.fetchrow(
            "SELECT pf_id, version FROM epd_versions WHERE series_id = $1 ORDER BY version DESC LIMIT 1",
            series["series_id"],
        )
        version = (prev["version"] + 1) if prev else 1
        await conn.execute(
            "UPDATE epd_versions SET status = 'deprecated', status_changed_at = now() "
            "WHERE series_id = $1 AND status = 'published'",
            series["series_id"],
        )
        pf_id = uuid.uuid4()
        await conn.execute(
            """INSERT INTO epd_versions (pf_id, series_id, version, status, preceding_pf_id, reference_period_start,
                   reference_period_end, factor_set_version, allocation_basis, reason)
               VALUES ($1, $2, $3, 'published', $4, '2025-01-01', '2026-01-01', 'cn-2023.1', 'mass', 'test')""",
            pf_id,
            series["series_id"],
            version,
            prev["pf_id"] if prev else None,
        )
        event_id = uuid.uuid4()
        changed = footprint_pb2.FootprintChanged(
            event_id=str(event_id),
            product_id=product_id,
            pf_id=f"urn:uuid:{pf_id}",
            version=version,
            change_type=footprint_pb2.FOOTPRINT_CHANGE_TYPE_PUBLISHED,
            product_sequence=seq,
            footprint=footprint(pf_id, product_id, version, series, classes, prev["pf_id"] if prev else None),
        )
        changed.occurred_at.CopyFrom(_ts(datetime.now(UTC)))
        await conn.execute(
            """INSERT INTO outbox (event_id, product_id, product_sequence, pf_id, version, change_type, payload)
               VALUES ($1, $2, $3, $4, $5, 'published', $6)""",
            event_id,
            product_id,
            seq,
            pf_id,
            version,
            changed.SerializeToString(deterministic=True),
        )
        if hold is not None:
            await hold.wait()
    return seq, version


@contextlib.asynccontextmanager
async def http_server(handler, port: int = 0):
    """A real aiohttp server on 127.0.0.1 routing every POST to ``handler``; yields its base URL."""
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sock = site._server.sockets[0]  # the port the OS picked
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()
