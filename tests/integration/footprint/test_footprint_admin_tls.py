"""The admin API over TLS, as the service configures it (EPD_FOOTPRINT_ADMIN_TLS_CERT_FILE/_KEY_FILE):
a client that trusts the CA gets answers, with the CLI too (EPD_FOOTPRINT_ADMIN_CA_FILE); plain HTTP on
the TLS port gets nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import sys

import httpx
import pytest

from epd_common.db import create_pool
from epd_common.http_server import ServiceServer
from epd_devstack.local_ca import LocalCA
from epd_footprint.__main__ import admin_config
from epd_footprint.settings import FootprintSettings
from epd_footprint.user_store import add_user
from epd_footprint.users import Role
from tests.integration.admin_api import TOKEN, free_port


@pytest.fixture
async def tls_api(fresh_db, tmp_path):
    ca = LocalCA(tmp_path / "ca").ensure()
    leaf = ca.issue_server(tmp_path / "tls", "admin", ["127.0.0.1", "localhost"])
    port = free_port()
    settings = FootprintSettings.model_validate(
        {
            "EPD_FOOTPRINT_ADMIN_TOKEN": TOKEN,
            "EPD_FOOTPRINT_ADMIN_PORT": str(port),
            "EPD_FOOTPRINT_ADMIN_TLS_CERT_FILE": str(leaf.cert),
            "EPD_FOOTPRINT_ADMIN_TLS_KEY_FILE": str(leaf.key),
        }
    )
    pool = await create_pool(fresh_db, max_size=2)
    server = ServiceServer(admin_config(settings, pool))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(60):
        while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, it has no event
            await asyncio.sleep(0.05)
    try:
        yield f"https://127.0.0.1:{port}", port, ca.cert_file, pool
    finally:
        server.should_exit = True
        await task
        await pool.close()


async def test_the_admin_api_speaks_tls(tls_api):
    url, port, ca_file, pool = tls_api
    auditor = await add_user(pool, "Zhou Auditor", frozenset({Role.AUDITOR}))
    headers = {"Authorization": f"Bearer {auditor.api_key}"}
    async with httpx.AsyncClient(
        base_url=url, verify=ssl.create_default_context(cafile=str(ca_file)), timeout=30
    ) as client:
        assert (await client.get("/pcrs", headers=headers)).json() == []
    async with httpx.AsyncClient(base_url=url, timeout=30) as untrusting:
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the CA does not talk
            await untrusting.get("/pcrs", headers=headers)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as plain:
        with pytest.raises(httpx.HTTPError):  # no plain-HTTP answer on the TLS port
            (await plain.get("/pcrs", headers=headers)).raise_for_status()
    exe = shutil.which("epd", path=os.path.dirname(sys.executable)) or "epd"
    proc = await asyncio.create_subprocess_exec(
        exe,
        "footprint",
        "pcr",
        "list",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={
            **os.environ,
            "EPD_FOOTPRINT_ADMIN_URL": url,
            "EPD_FOOTPRINT_ADMIN_TOKEN": auditor.api_key,
            "EPD_FOOTPRINT_ADMIN_CA_FILE": str(ca_file),
        },
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and out.decode().strip() == "[]", out
