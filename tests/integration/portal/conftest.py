"""The portal against a fresh, seeded database, connected as the read-only role `epd_portal`; the
footprint admin API is a stand-in (httpx.MockTransport) that records what operators sent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from portal_seed import Seeded, seed

KEY_SECRET = "portal-test-key-secret"
ADMIN_TOKEN = "operator-token-for-tests"


def reader_dsn(dsn: str) -> str:
    """The same database, as the local read-only login (tools/devstack postgres.PORTAL_ROLES)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"epd_portal:epd_portal@{parts.hostname}:{parts.port}"))


@dataclass
class FakeAdmin:
    calls: list[tuple[str, str, dict]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {ADMIN_TOKEN}":
            return httpx.Response(401, json={"code": "unauthorized", "message": "operator bearer token required"})
        body = json.loads(request.content) if request.content else {}
        self.calls.append((request.method, request.url.path, body))
        if request.url.path == "/me":
            return httpx.Response(200, json={"user_id": "u-li", "name": "Li Verifier", "roles": ["verifier"]})
        return httpx.Response(200, json={"status": "ok"})


@dataclass
class Portal:
    http: httpx.AsyncClient
    admin: FakeAdmin
    seeded: Seeded
    owner_dsn: str


@pytest.fixture(scope="package")
async def portal_db(pg_dsn):
    """One seeded database for every portal test: the portal only reads it (operators' actions go to the
    stand-in admin API), so the tests cannot disturb each other."""
    import uuid

    from epd_common import signing_keys
    from epd_devstack import stack
    from epd_devstack.databases import create_migrated_database, drop_database
    from epd_devstack.postgres import PORTAL_ROLES
    from epd_records.signing import new_stored_key

    stack.components(1)["postgres"]._psql(PORTAL_ROLES)  # a stack started before the portal existed
    name = f"t_portal_{uuid.uuid4().hex[:10]}"
    dsn = await create_migrated_database(pg_dsn, name)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            seeded = await seed(conn)
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        try:
            await signing_keys.ensure(pool, KEY_SECRET, new_stored_key)
        finally:
            await pool.close()
        yield dsn, seeded
    finally:
        await drop_database(pg_dsn, name)


@pytest.fixture
async def portal(portal_db):
    from epd_portal.admin_client import AdminClient
    from epd_portal.app import create_app
    from epd_portal.settings import PortalSettings
    from epd_portal.wiring import build_deps, open_pool

    dsn, seeded = portal_db
    settings = PortalSettings(
        EPD_PORTAL_PG_DSN=reader_dsn(dsn), EPD_RECORDS_KEY_SECRET=KEY_SECRET, EPD_PORTAL_PAGE_SIZE=2
    )
    fake = FakeAdmin()
    pool = await open_pool(settings)
    deps = build_deps(settings, pool, AdminClient("http://admin.test", transport=httpx.MockTransport(fake.handler)))
    try:
        await deps.repository.check_read_only()
        transport = httpx.ASGITransport(app=create_app(deps))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            yield Portal(http, fake, seeded, dsn)
    finally:
        await deps.admin.close()
        await pool.close()
