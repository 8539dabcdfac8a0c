"""`epd connector register-plant` as operators run it (a subprocess) against the footprint admin API on a
fresh database: it registers the example smelter, a second run changes nothing, a changed YAML is refused
with the API's reason and nothing changes, and the command never touches PostgreSQL itself."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg
import httpx
import yaml

from epd_connector import signing
from tests.conftest import REPO
from tests.integration.admin_api import TOKEN, running_admin_api

SMELTER = REPO / "services" / "connector" / "config" / "baotou-smelter.yaml"


async def epd(*args: str, url: str, token: str = TOKEN) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "EPD_FOOTPRINT_ADMIN_URL": url,
        "EPD_FOOTPRINT_ADMIN_TOKEN": token,
        "EPD_PG_DSN": "postgresql://nobody:wrong@127.0.0.1:1/none",  # the command must not need it
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "epd_cli.main",
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def snapshot(conn: asyncpg.Connection) -> list:
    return [
        sorted(tuple(r) for r in await conn.fetch(f"SELECT * FROM {table}"))
        for table in ("plants", "plant_keys", "processes", "products", "meters")
    ]


async def test_register_plant_goes_through_the_admin_api(fresh_db, tmp_path):
    key = signing.generate_private_key()
    pub = tmp_path / "smelter.pub"
    pub.write_bytes(signing.public_key_to_pem(key.public_key()))
    async with running_admin_api(fresh_db) as url:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            org = await client.post("/organisations", json={"organisation_id": "org-baotou-re", "name": "Baotou RE"})
            assert org.status_code == 201, org.text
        conn = await asyncpg.connect(fresh_db)
        try:
            code, out, err = await epd("connector", "register-plant", str(SMELTER), "--key-file", str(pub), url=url)
            assert code == 0, (out, err)
            created = yaml.safe_load(out)["created"]
            assert created["plant"] and created["key"] and len(created["meters"]) == 16
            stages = dict(await conn.fetch("SELECT process_id, stage FROM processes"))
            assert stages == {
                "baotou-smelter/roasting": "roasting",
                "baotou-smelter/leaching": "leaching",
                "baotou-smelter/solvent-extraction": "separation",
            }
            assert await conn.fetchval("SELECT name FROM plants") == "Baotou smelter (demo)"
            before = await snapshot(conn)

            code, out, err = await epd("connector", "register-plant", str(SMELTER), "--key-file", str(pub), url=url)
            assert code == 0, (out, err)
            assert yaml.safe_load(out)["created"]["meters"] == []
            assert await snapshot(conn) == before

            code, out, err = await epd(
                "connector", "register-plant", str(SMELTER), "--key-file", str(pub), "--name", "Renamed", url=url
            )
            assert code == 1, (out, err)
            assert "refused (409 plant_differs)" in err and "plant baotou-smelter is registered with name" in err
            assert yaml.safe_load(out)["code"] == "plant_differs"
            assert await snapshot(conn) == before

            code, out, err = await epd(
                "connector",
                "register-plant",
                str(SMELTER),
                "--key-file",
                str(pub),
                url=url,
                token="wrong-token-0123456",
            )
            assert code == 1 and "refused (401" in err, (out, err)
        finally:
            await conn.close()
