"""People behind every decision, over real HTTP against a fresh database: users with each role, 401/403
with `{code, message}` bodies, hostile keys (never a 500), disabled users, the bootstrap token that cannot
approve, approvals that record the authenticated verifier, reasons stored and shown by `epd footprint show`,
and separation of duties."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from decimal import Decimal

import asyncpg
import httpx
import pytest
from footprint_chain import register, roasting_window

from epd_common.db import create_pool
from epd_footprint.pg_store import pg_transactions
from epd_footprint.service import FootprintService
from epd_footprint.user_store import add_user, disable_user
from epd_footprint.users import Role
from tests.integration.admin_api import TOKEN, bearer, running_admin_api


@pytest.fixture
async def api(fresh_db):
    pool = await create_pool(fresh_db, max_size=2)
    async with running_admin_api(fresh_db) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        yield client, pool
    await pool.close()


async def user(pool, name: str, *roles: Role):
    return await add_user(pool, name, frozenset(roles))


def refused(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code and body["message"], body


async def test_each_role_does_its_part_and_nothing_else(api):
    client, pool = api
    op = await user(pool, "Zhao Operator", Role.OPERATOR)
    ver = await user(pool, "Li Verifier", Role.VERIFIER)
    aud = await user(pool, "Sun Auditor", Role.AUDITOR)
    org = {"organisation_id": "org-1", "name": "Org One"}
    plant = {"plant_id": "p-1", "organisation_id": "org-1", "name": "P", "province": "x", "grid_region": "north"}
    for who in (ver, aud):
        refused(await client.post("/organisations", json=org, headers=bearer(who.api_key)), 403, "forbidden_role")
        assert (await client.get("/pcrs", headers=bearer(who.api_key))).json() == []
    assert (await client.post("/organisations", json=org, headers=bearer(op.api_key))).status_code == 201
    assert (await client.post("/plants", json=plant, headers=bearer(op.api_key))).status_code == 201
    product = {"product_id": "oxide", "name": "Oxide"}
    assert (await client.post("/products", json=product, headers=bearer(op.api_key))).status_code == 201
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT registered_by FROM plants WHERE plant_id = 'p-1'") == op.user_id
        assert await conn.fetchval("SELECT registered_by FROM products WHERE product_id = 'oxide'") == op.user_id
    # GET /me names the key's user (what the portal shows as logged in); no key, no answer.
    me = (await client.get("/me", headers=bearer(ver.api_key))).json()
    assert me == {"user_id": ver.user_id, "name": "Li Verifier", "roles": ["verifier"], "may_decide": True}
    assert (await client.get("/me", headers=bearer(aud.api_key))).json()["may_decide"] is False
    refused(await client.get("/me"), 401, "unauthorized")
    # The bootstrap token still registers (as 'bootstrap'), and reads.
    boot = bearer(TOKEN)
    assert (await client.post("/products", json={**product, "product_id": "o2"}, headers=boot)).status_code == 201
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT registered_by FROM products WHERE product_id = 'o2'") == "bootstrap"
    # Deciding is for verifiers only: the operator, the auditor and the bootstrap token are refused.
    pf = "00000000-0000-0000-0000-000000000001"
    for key in (op.api_key, aud.api_key, TOKEN):
        refused(await client.post(f"/versions/{pf}/approve", json={}, headers=bearer(key)), 403, "forbidden_role")
        refused(
            await client.post(f"/versions/{pf}/reject", json={"reason": "r"}, headers=bearer(key)),
            403,
            "forbidden_role",
        )
    refused(await client.post(f"/versions/{pf}/approve", headers=bearer(ver.api_key)), 404, "unknown_version")
    # Disabled: refused from the next request on, even with its secret remembered.
    await disable_user(pool, "Sun Auditor")
    refused(await client.get("/pcrs", headers=bearer(aud.api_key)), 401, "user_disabled")


async def test_hostile_credentials_get_401_never_500(api):
    client, pool = api
    real = await user(pool, "Qian Operator", Role.OPERATOR)
    key_id = real.api_key.split("_")[1]
    wrong_secret = f"epdk_{key_id}_" + "A" * 43
    unknown_id = "epdk_0000000000000000_" + real.api_key.split("_", 2)[2]
    cases: list[tuple[list[tuple[bytes, bytes]], str]] = [
        ([], "unauthorized"),
        ([(b"authorization", b"")], "unauthorized"),
        ([(b"authorization", b"Basic " + real.api_key.encode())], "unauthorized"),
        ([(b"authorization", b"Bearer " + wrong_secret.encode())], "unauthorized"),
        ([(b"authorization", b"Bearer " + unknown_id.encode())], "unauthorized"),
        ([(b"authorization", b"Bearer epdk_x_y")], "unauthorized"),
        ([(b"authorization", b"Bearer " + real.api_key.encode() + b"x")], "unauthorized"),
        ([(b"authorization", b"Bearer " + "ключ-秘密-ü".encode())], "unauthorized"),
        ([(b"authorization", b"Bearer \xff\xfe\x80" + b"a" * 60)], "unauthorized"),
        ([(b"authorization", b"Bearer " + b"epdk_" * 2000)], "unauthorized"),  # 10 kB
    ]
    for headers, code in cases:
        resp = await client.get("/pcrs", headers=headers)
        refused(resp, 401, code)
    huge = await client.get("/pcrs", headers=[(b"authorization", b"Bearer " + b"k" * 40_000)])
    assert huge.status_code == 400 and huge.json()["code"]  # the head bound answers before authentication
    assert (await client.get("/pcrs", headers=bearer(real.api_key))).status_code == 200


async def _epd(*args: str, url: str, token: str) -> tuple[int, str]:
    exe = shutil.which("epd", path=os.path.dirname(sys.executable)) or "epd"
    proc = await asyncio.create_subprocess_exec(
        exe,
        "footprint",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "EPD_FOOTPRINT_ADMIN_URL": url, "EPD_FOOTPRINT_ADMIN_TOKEN": token},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_decisions_record_the_verifier_and_the_reason_with_separation_of_duties(api, fresh_db):
    client, pool = api
    # Wang both registers the plant data and verifies; Li only verifies.
    wang = await user(pool, "Wang", Role.OPERATOR, Role.VERIFIER)
    li = await user(pool, "Li", Role.VERIFIER)
    await register(pool, by=wang.user_id)
    service = FootprintService(pg_transactions(pool))
    for day in range(3):
        await service.apply_message(roasting_window(day, Decimal("1.2")))
    conn = await asyncpg.connect(fresh_db)
    try:
        provisional = dict(
            await conn.fetch(
                "SELECT s.product_id, v.pf_id::text FROM epd_versions v JOIN epd_series s USING (series_id)"
                " WHERE v.status = 'provisional'"
            )
        )
        roast, chloride = provisional["roasted-ore"], provisional["re-chloride"]
        refused(
            await client.post(f"/versions/{roast}/approve", json={}, headers=bearer(wang.api_key)),
            403,
            "separation_of_duties",
        )
        assert await conn.fetchval("SELECT status FROM epd_versions WHERE pf_id = $1::uuid", roast) == "provisional"
        # Li approves; a `verifier` in the body is not what gets recorded.
        ok = await client.post(f"/versions/{roast}/approve", json={"verifier": "Wang"}, headers=bearer(li.api_key))
        assert ok.status_code == 200, ok.text
        assert ok.json()["verifier"] == "Li" and ok.json()["decided_by"] == li.user_id
        row = await conn.fetchrow("SELECT status, verifier, decided_by FROM epd_versions WHERE pf_id = $1::uuid", roast)
        assert dict(row) == {"status": "published", "verifier": "Li", "decided_by": li.user_id}
        # A rejection needs a reason; the reason is stored and `epd footprint show` prints it and who decided.
        refused(
            await client.post(f"/versions/{chloride}/reject", json={}, headers=bearer(li.api_key)),
            422,
            "invalid_request",
        )
        url = str(client.base_url)
        code, out = await _epd("reject", chloride, "--reason", "meter MT-7 drifted", url=url, token=li.api_key)
        assert code == 0, out
        code, out = await _epd("show", chloride, url=url, token=li.api_key)
        shown = json.loads(out)
        assert code == 0 and shown["status"] == "withdrawn"
        assert (shown["decided_by"], shown["decided_by_name"], shown["decision_reason"]) == (
            li.user_id,
            "Li",
            "meter MT-7 drifted",
        )
        # The bootstrap operator token cannot approve through the CLI either.
        code, out = await _epd("approve", roast, url=url, token=TOKEN)
        assert code == 1 and '"forbidden_role"' in out
    finally:
        await conn.close()
