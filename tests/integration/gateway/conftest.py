"""Runs the real gateway (`python -m epd_gateway`, TLS on a free port) against a fresh database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from gateway_seed import base

KEY_SECRET = "integration-test-key-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gateway:
    url: str
    cert: Path
    dsn: str
    port: int
    clients: dict[str, tuple[str, str]]  # name -> (client_id, secret)
    env: dict[str, str]

    def client(self, **kw) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, verify=ssl.create_default_context(cafile=str(self.cert)), timeout=30, **kw
        )

    async def token(self, name: str, scope: str | None = None) -> str:
        cid, secret = self.clients[name]
        async with self.client() as http:
            data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
            r = await http.post("/auth/token", data=data, auth=(cid, secret))
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


def start(dsn: str, tmp: Path, **extra: str) -> tuple[subprocess.Popen, dict[str, str], int]:
    port = free_port()
    env = dict(
        os.environ,
        EPD_PG_DSN=dsn,
        EPD_GATEWAY_HTTPS_PORT=str(port),
        EPD_RECORDS_KEY_SECRET=KEY_SECRET,
        EPD_GATEWAY_TLS_DIR=str(tmp / "tls"),
        EPD_GATEWAY_PUBLIC_URL=f"https://127.0.0.1:{port}",
        EPD_GATEWAY_KEY_REFRESH_SECONDS="0",
        EPD_GATEWAY_REQUEST_POLL_SECONDS="0.2",
        EPD_GATEWAY_TOKEN_RATE_PER_SECOND="50",
        EPD_GATEWAY_TOKEN_RATE_BURST="50",
        EPD_LOG_JSON="false",
        EPD_GATEWAY_RATE_PER_SECOND="1000",
        EPD_GATEWAY_RATE_BURST="1000",
    )
    env.update(extra)
    log = open(tmp / f"gateway-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "epd_gateway"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {(tmp / f'gateway-{port}.log').read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, env, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway did not start in 30 s")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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


@pytest.fixture
async def gateway_db(fresh_db):
    conn = await asyncpg.connect(fresh_db)
    try:
        await base(conn)
    finally:
        await conn.close()
    return fresh_db


async def launch(dsn: str, tmp: Path, **extra: str):
    clients = await add_clients(dsn)
    proc, env, port = await asyncio.to_thread(start, dsn, tmp, **extra)
    return proc, Gateway(f"https://127.0.0.1:{port}", tmp / "tls" / "cert.pem", dsn, port, clients, env)


@pytest.fixture
async def gateway(gateway_db, tmp_path):
    proc, gw = await launch(gateway_db, tmp_path)
    try:
        yield gw
    finally:
        await asyncio.to_thread(stop, proc)


@pytest.fixture
async def db(gateway_db):
    conn = await asyncpg.connect(gateway_db)
    yield conn
    await conn.close()


SPEC = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "pact" / "openapi-v3.0.3.yaml"


@pytest.fixture(scope="session")
def pact():
    """Validators for schemas of the PACT OpenAPI file, with $refs resolved (jsonschema + referencing)."""
    if not SPEC.is_file():
        pytest.skip(f"PACT OpenAPI spec not found at {SPEC} (expected in ../shared/specs)")
    import jsonschema
    import yaml
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
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
