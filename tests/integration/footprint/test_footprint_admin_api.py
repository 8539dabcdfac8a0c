"""The admin API over real HTTP (uvicorn on a loopback port) against a fresh database.

Registration, EPD import, drift events, approve (provisional -> verified -> published, preceding
published -> deprecated, outbox rows for each change), reject, withdraw, expire; hostile input
(NUL bytes, huge numbers, unknown ids, forbidden transitions, bad tokens) gets a 4xx with a body.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from datetime import date
from decimal import Decimal

import asyncpg
import httpx
import pytest
import uvicorn
import yaml
from footprint_chain import binding, document, register, roasting_window

from epd.v1 import footprint_pb2
from epd_common.db import create_pool
from epd_common.http_server import ServiceServer as AdminServer
from epd_footprint.api import create_app
from epd_footprint.pg_store import pg_transactions
from epd_footprint.service import FootprintService
from tests.integration.admin_api import admin_key, bearer
from tests.support.pcrs import pcr

TOKEN = "test-operator-token-123456"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def api(fresh_db):
    pool = await create_pool(fresh_db, max_size=4)
    port = _free_port()
    server = AdminServer(
        uvicorn.Config(create_app(pool, TOKEN), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, it has no event
        await asyncio.sleep(0.05)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"})
    conn = await asyncpg.connect(fresh_db)
    yield client, pool, conn
    await conn.close()
    await client.aclose()
    server.should_exit = True
    await task
    await pool.close()


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] and body["message"]
    if code:
        assert body["code"] == code, body


async def test_token_is_required(api):
    client, _, _ = api
    assert_error(await client.get("/drift-events", headers={"Authorization": ""}), 401, "unauthorized")
    assert_error(await client.get("/drift-events", headers={"Authorization": "Bearer wrong-token-wrong-token"}), 401)


async def test_registration_and_hostile_input(api):
    client, _, conn = api
    ok = await client.post("/organisations", json={"organisation_id": "org-1", "name": "Org One"})
    assert ok.status_code == 201, ok.text
    assert_error(await client.post("/organisations", json={"organisation_id": "org-1", "name": "again"}), 409)
    assert_error(
        await client.post("/organisations", json={"organisation_id": "org\x00x", "name": "n"}), 422, "invalid_request"
    )
    assert_error(await client.post("/organisations", json={"organisation_id": "org-2", "name": "a\x00b"}), 422)
    plant = {
        "plant_id": "p-1",
        "organisation_id": "org-1",
        "name": "P",
        "province": "inner-mongolia",
        "grid_region": "north",
    }
    assert_error(await client.post("/plants", json={**plant, "organisation_id": "nope"}), 404, "unknown_reference")
    assert_error(
        await client.post(
            "/plants",
            content='{"plant_id": "p-1", "organisation_id": "org-1", "name": "P", '
            '"province": "x", "grid_region": "n", "latitude": 1e400}',
            headers={"Content-Type": "application/json"},
        ),
        422,
    )
    assert_error(await client.post("/plants", json={**plant, "latitude": 10**40}), 422)
    assert_error(await client.post("/plants", json={**plant, "latitude": 95}), 422, "constraint_violation")
    assert (await client.post("/plants", json=plant)).status_code == 201
    assert_error(
        await client.post(
            "/processes", json={"process_id": "p-1/roast", "plant_id": "p-1", "name": "r", "stage": "cooking"}
        ),
        422,
    )
    assert (
        await client.post(
            "/processes", json={"process_id": "p-1/roast", "plant_id": "p-1", "name": "r", "stage": "roasting"}
        )
    ).status_code == 201
    key = base64.b64encode(bytes(range(32))).decode()
    meter = {
        "meter_id": "m-1",
        "process_id": "p-1/roast",
        "activity_kind": "electricity",
        "activity": "electricity.grid",
        "unit": "kWh",
        "reading_kind": "counter",
        "counter_modulus": "1000000",
        "public_key": key,
    }
    assert_error(await client.post("/meters", json={**meter, "public_key": "not-base64!"}), 422, "bad_public_key")
    assert_error(await client.post("/meters", json={**meter, "process_id": "p-9/x"}), 404)
    assert (await client.post("/meters", json=meter)).status_code == 201
    assert bytes(await conn.fetchval("SELECT public_key FROM plant_keys WHERE key_id = 'm-1'")) == bytes(range(32))
    assert (await client.post("/plants/p-1/keys", json={"key_id": "k-2", "public_key": key})).status_code == 201
    assert_error(await client.post("/plants/p-404/keys", json={"key_id": "k-3", "public_key": key}), 404)
    assert_error(await client.post("/products", json={"product_id": "x", "name": "x", "purity": "NaN"}), 422)
    assert (await client.post("/products", json={"product_id": "x", "name": "x", "purity": "0.995"})).status_code == 201
    assert_error(await client.get("/versions/not-a-uuid"), 422)
    assert_error(await client.get("/versions/00000000-0000-0000-0000-000000000000"), 404, "unknown_version")
    assert_error(await client.put("/policies", json={"scope": "product", "scope_id": "x", "threshold": "0"}), 422)
    assert_error(await client.put("/policies", json={"scope": "product", "scope_id": "x", "consecutive": 2**40}), 422)
    assert (
        await client.put("/policies", json={"scope": "pcr", "scope_id": "pcr-1", "threshold": "0.05"})
    ).status_code == 200


async def test_product_system_validation(api):
    client, pool, _ = api
    await register(pool)
    bad = document()
    bad["processes"][1]["inputs"][2]["unit"] = "kg"  # coal in kg where the activity is MJ
    assert_error(
        await client.post("/product-systems", json={"system_id": "s2", "document": bad, "binding": binding()}),
        422,
        "product_system_unit_mismatch",
    )
    b = binding()
    b["processes"]["baotou-1/acid-roasting"]["activities"]["electricity.grid"] = "no-such-activity"
    assert_error(
        await client.post("/product-systems", json={"system_id": "s2", "document": document(), "binding": b}),
        422,
        "bad_binding",
    )
    b = binding()
    b["processes"]["baotou-1/acid-roasting"]["process_id"] = "unknown/process"
    assert_error(
        await client.post("/product-systems", json={"system_id": "s2", "document": document(), "binding": b}), 404
    )
    ok = await client.post(
        "/product-systems", json={"system_id": "baotou-ndfeb", "document": document(), "binding": binding()}
    )
    assert ok.status_code == 201 and ok.json()["version"] == 2


async def test_import_drift_approve_reject_withdraw_expire(api, fresh_db):
    client, pool, conn = api
    pf_ids = await register(pool)
    service = FootprintService(pg_transactions(pool))
    for day in range(3):
        await service.apply_message(roasting_window(day, Decimal("1.2")))
    events = (await client.get("/drift-events", params={"product_id": "roasted-ore"})).json()
    assert len(events) == 1 and events[0]["cause"] == "drift" and len(events[0]["evidence"]) == 3
    assert_error(await client.get("/drift-events", params={"product_id": "a\x00b"}), 422)
    provisional = {
        r["product_id"]: r["pf_id"]
        for r in await conn.fetch(
            "SELECT s.product_id, v.pf_id FROM epd_versions v JOIN epd_series s USING (series_id)"
            " WHERE status = 'provisional'"
        )
    }
    roast = provisional["roasted-ore"]
    v = bearer(await admin_key(pool, "verifier-2", "verifier"))
    assert_error(
        await client.post(f"/versions/{pf_ids['roasted-ore']}/approve", json={"verifier": "v"}, headers=v),
        409,
        "forbidden_transition",
    )
    resp = await client.post(f"/versions/{roast}/approve", json={"verifier": "verifier-2"}, headers=v)
    assert resp.status_code == 200, resp.text
    assert resp.json()["deprecated"] == pf_ids["roasted-ore"]
    statuses = dict(
        await conn.fetch(
            "SELECT pf_id::text, status FROM epd_versions WHERE pf_id = ANY($1::uuid[])",
            [str(roast), pf_ids["roasted-ore"]],
        )
    )
    assert statuses == {str(roast): "published", pf_ids["roasted-ore"]: "deprecated"}
    changes = [
        (r["change_type"], r["product_sequence"])
        for r in await conn.fetch(
            "SELECT change_type, product_sequence FROM outbox WHERE product_id = 'roasted-ore'"
            " ORDER BY product_sequence"
        )
    ]
    assert changes == [
        ("published", 1),
        ("created", 2),
        ("successor_changed", 3),  # the published version is superseded for viewers of provisional versions
        ("verified", 4),
        ("deprecated", 5),
        ("published", 6),
    ]
    superseded = footprint_pb2.FootprintChanged.FromString(
        await conn.fetchval("SELECT payload FROM outbox WHERE product_id = 'roasted-ore' AND product_sequence = 3")
    )
    assert superseded.pf_id == f"urn:uuid:{pf_ids['roasted-ore']}"
    assert superseded.footprint.status == footprint_pb2.FOOTPRINT_STATUS_PUBLISHED
    assert superseded.footprint.superseding_provisional_pf_id == f"urn:uuid:{roast}"
    last = footprint_pb2.FootprintChanged.FromString(
        await conn.fetchval("SELECT payload FROM outbox WHERE product_id = 'roasted-ore' AND product_sequence = 6")
    )
    assert last.footprint.superseding_provisional_pf_id == ""
    assert last.footprint.status == footprint_pb2.FOOTPRINT_STATUS_PUBLISHED and last.footprint.verifier == "verifier-2"
    assert last.footprint.valid_until.seconds > last.footprint.valid_from.seconds
    assert_error(await client.post(f"/versions/{roast}/approve", json={"verifier": "v"}, headers=v), 409)
    # Reject the chloride's provisional version; rejecting it again or a published one is forbidden.
    chloride = provisional["re-chloride"]
    assert (
        await client.post(f"/versions/{chloride}/reject", json={"reason": "meter fault"}, headers=v)
    ).status_code == 200
    assert_error(await client.post(f"/versions/{chloride}/reject", json={"reason": "again"}, headers=v), 409)
    assert (
        await conn.fetchval("SELECT change_type FROM outbox WHERE pf_id = $1 ORDER BY outbox_id DESC LIMIT 1", chloride)
        == "rejected"
    )
    # The chloride's published version is current again for viewers of provisional versions.
    reinstated = footprint_pb2.FootprintChanged.FromString(
        await conn.fetchval(
            "SELECT payload FROM outbox WHERE pf_id = $1::uuid ORDER BY outbox_id DESC LIMIT 1", pf_ids["re-chloride"]
        )
    )
    assert reinstated.change_type == footprint_pb2.FOOTPRINT_CHANGE_TYPE_SUCCESSOR_CHANGED
    assert reinstated.footprint.superseding_provisional_pf_id == ""
    assert_error(await client.post(f"/versions/{chloride}/withdraw", json={"reason": "x\x00"}, headers=v), 422)
    assert (
        await client.post(f"/versions/{pf_ids['ndpr-metal']}/withdraw", json={"reason": "plant closed"}, headers=v)
    ).status_code == 200
    assert_error(
        await client.post(f"/versions/{pf_ids['ndpr-metal']}/withdraw", json={"reason": "again"}, headers=v), 409
    )
    assert_error(
        await client.post("/versions/00000000-0000-0000-0000-000000000001/approve", json={"verifier": "v"}, headers=v),
        404,
    )
    # Expiry: an old EPD (valid 2015-2020) expires; current ones stay.
    await client.post("/products", json={"product_id": "old-oxide", "name": "old"})
    old_pcr = pcr("pcr", "1", valid_from="2010-01-01", valid_until="2020-01-01")
    assert (await client.post("/pcrs", json=old_pcr)).status_code == 201
    body = {
        "product_id": "old-oxide",
        "plant_id": "baotou-2",
        "pcr_id": "pcr",
        "pcr_version": "1",
        "programme_operator": "CN-EPD",
        "registration_number": "EPD-old",
        "reference_period_start": "2014-01-01T00:00:00Z",
        "reference_period_end": "2015-01-01T00:00:00Z",
        "factor_set_version": "f",
        "verifier": "v",
        "valid_from": "2015-01-01T00:00:00Z",
        "results": {"A1-A3": {"GWP-total": "12.5"}},
    }
    assert_error(
        await client.post("/epds/import", json={**body, "results": {"A1": {"GWP-total": "1"}}}), 422, "missing_result"
    )
    assert_error(await client.post("/epds/import", json={**body, "results": {"A1-A3": {"GWP-total": "1e999"}}}), 422)
    assert_error(await client.post("/epds/import", json={**body, "product_id": "ghost"}), 404)
    old = await client.post("/epds/import", json=body)
    assert old.status_code == 201, old.text
    assert_error(await client.post("/epds/import", json=body), 409)
    expired = (await client.post("/versions/expire")).json()["expired"]
    assert expired == [old.json()["pf_id"]]
    assert (
        await conn.fetchval(
            "SELECT change_type FROM outbox WHERE pf_id = $1::uuid ORDER BY outbox_id DESC LIMIT 1", old.json()["pf_id"]
        )
        == "expired"
    )


async def _epd(*args: str, url: str) -> tuple[int, str]:
    import os
    import shutil
    import sys

    exe = shutil.which("epd", path=os.path.dirname(sys.executable)) or "epd"
    proc = await asyncio.create_subprocess_exec(
        exe,
        "footprint",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "EPD_FOOTPRINT_ADMIN_URL": url, "EPD_FOOTPRINT_ADMIN_TOKEN": TOKEN},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode()


async def test_cli_registers_and_reports_api_errors(api, tmp_path):
    client, _, conn = api
    url = str(client.base_url)
    (tmp_path / "org.json").write_text('{"organisation_id": "org-cli", "name": "CLI Org"}')
    (tmp_path / "bad.yaml").write_text('organisation_id: "bad\\0id"\nname: x\n')
    code, out = await _epd("register", "organisation", str(tmp_path / "org.json"), url=url)
    assert code == 0, out
    assert await conn.fetchval("SELECT name FROM organisations WHERE organisation_id = 'org-cli'") == "CLI Org"
    code, out = await _epd("register", "organisation", str(tmp_path / "org.json"), url=url)
    assert code == 1 and '"already_exists"' in out
    code, out = await _epd("register", "organisation", str(tmp_path / "bad.yaml"), url=url)
    assert code == 1 and '"invalid_request"' in out
    code, out = await _epd("approve", "00000000-0000-0000-0000-000000000000", url=url)
    assert code == 1 and '"forbidden_role"' in out  # the bootstrap operator token cannot approve
    code, out = await _epd("drift-events", url=url)
    assert code == 0 and out.strip() == "[]"
    # Product category rules: add one (YAML, dates as YAML dates), version it, list it.
    rule = {**pcr("pcr-cli", "1.0"), "valid_from": date(2025, 1, 1), "valid_until": date(2030, 1, 1)}
    (tmp_path / "pcr.yaml").write_text(yaml.safe_dump(rule))
    (tmp_path / "pcr-1.1.yaml").write_text(yaml.safe_dump({**rule, "version": "1.1"}))
    code, out = await _epd("pcr", "add", str(tmp_path / "pcr.yaml"), url=url)
    assert code == 0 and '"version": "1.0"' in out, out
    code, out = await _epd("pcr", "version", "pcr-cli", str(tmp_path / "pcr-1.1.yaml"), url=url)
    assert code == 0 and '"version": "1.1"' in out, out
    code, out = await _epd("pcr", "list", "pcr-cli", url=url)
    assert code == 0 and [p["version"] for p in json.loads(out)] == ["1.0", "1.1"]
