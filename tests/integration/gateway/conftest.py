"""Runs the real gateway (`python -m epd_gateway`, TLS on a free port) against a fresh database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from gateway_seed import base

from tests.conftest import scratch_database, shared_spec
from tests.support.gateway_process import KEY_SECRET, Gateway, start, stop  # noqa: F401 - fixtures use them


async def add_clients(dsn: str) -> dict[str, tuple[str, str]]:
    from epd_common import crypto as secrets
    from epd_gateway.repository import Repository

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    out = {}
    try:
        for name in ("a", "b", "all"):
            secret = secrets.new_client_secret()
            await Repository(pool, "").add_client(
                f"client-{name}",
                f"partner-{name}",
                secrets.hash_secret(secret),
                ["footprint:list", "footprint:read", "events:write"],
            )
            out[name] = (f"client-{name}", secret)
    finally:
        await pool.close()
    return out


async def seed_base(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        await base(conn)
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def gateway_db(fresh_db):
    return await seed_base(fresh_db)


async def launch(dsn: str, tmp: Path, **extra: str):
    clients = await add_clients(dsn)
    proc, env, port = await asyncio.to_thread(start, dsn, tmp, **extra)
    return proc, Gateway(f"https://127.0.0.1:{port}", tmp / "tls" / "cert.pem", dsn, port, clients, env)


@contextlib.asynccontextmanager
async def running(dsn: str, tmp: Path) -> AsyncIterator[Gateway]:
    proc, gw = await launch(dsn, tmp)
    try:
        yield gw
    finally:
        await asyncio.to_thread(stop, proc)


@pytest.fixture
async def gateway(gateway_db, tmp_path):
    async with running(gateway_db, tmp_path) as gw:
        yield gw


@pytest.fixture(scope="module")
async def read_only_gateway(pg_dsn, tmp_path_factory):
    """One gateway on one database (the base seed) for a whole module, whose tests must only read:
    they share the database and the gateway process. The module seeds its records once, in a
    module-scoped fixture of its own; each test still gets its own token and client."""
    async with scratch_database(pg_dsn) as dsn, running(await seed_base(dsn), tmp_path_factory.mktemp("gw")) as gw:
        yield gw


@pytest.fixture
async def db(gateway_db):
    conn = await asyncpg.connect(gateway_db)
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
def pact():
    """Validators for schemas of the PACT OpenAPI file, with $refs resolved (jsonschema + referencing)."""
    spec = shared_spec("pact/openapi-v3.0.3.yaml")
    import jsonschema
    import yaml
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    base_uri = "urn:pact:openapi-v3.0.3"
    registry = Registry().with_resource(base_uri, Resource.from_contents(document, default_specification=DRAFT202012))

    def validate(name: str, instance) -> None:
        schema = {"$ref": f"{base_uri}#/components/schemas/{name}"}
        jsonschema.Draft202012Validator(
            schema, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(instance)

    return validate


def check_list(pact, response: httpx.Response) -> list[dict]:
    """A ListFootprints 200 response as the spec wants it: {data: [ProductFootprint...]}."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body.get("data"), list)
    for pf in body["data"]:
        pact("ProductFootprint", pf)
    return body["data"]


def check_error(pact, response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    pact("Error", body)
    if code:
        assert body["code"] == code, body
    return body
