"""PUT /plants/{plant_id}/site over real HTTP on a fresh database: a whole site is registered in one
transaction; the same site again changes nothing (200); a site that differs from what is registered is
a 409 with `{code, message}` and nothing changes; hostile input is a 4xx with a body, never a 500."""

from __future__ import annotations

import asyncio
import base64
import copy

import asyncpg
import httpx
import pytest

from tests.integration.admin_api import TOKEN, running_admin_api

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()
TABLES = ("plants", "plant_keys", "processes", "products", "meters")


def site(plant: str = "p-1") -> dict:
    return {
        "organisation_id": "org-1",
        "name": "Plant one",
        "province": "CN-NM",
        "grid_region": "north",
        "latitude": "40.6",
        "key": {"key_id": f"{plant}-k1", "public_key": KEY},
        "processes": [{"process_id": f"{plant}/roast", "name": "Roasting", "stage": "roasting"}],
        "products": [{"product_id": "calcine", "name": "Calcine"}],
        "meters": [
            {
                "meter_id": f"{plant}.out",
                "process_id": f"{plant}/roast",
                "activity_kind": "product_output",
                "activity": "output.calcine",
                "unit": "t",
                "reading_kind": "interval",
                "max_rate_per_hour": "90",
                "product_id": "calcine",
            },
            {
                "meter_id": f"{plant}.kwh",
                "process_id": f"{plant}/roast",
                "activity_kind": "electricity",
                "activity": "electricity.grid",
                "unit": "kWh",
                "reading_kind": "counter",
                "counter_modulus": "100000000",
                "reset_floor": "5",
                "interval_seconds": 30,
            },
        ],
    }


@pytest.fixture
async def api(fresh_db):
    async with running_admin_api(fresh_db) as url:
        client = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        conn = await asyncpg.connect(fresh_db)
        try:
            ok = await client.post("/organisations", json={"organisation_id": "org-1", "name": "Org one"})
            assert ok.status_code == 201, ok.text
            yield client, conn
        finally:
            await conn.close()
            await client.aclose()


async def registry(conn: asyncpg.Connection) -> dict[str, list]:
    out = {}
    for table in TABLES:
        rows = await conn.fetch(f"SELECT * FROM {table}")
        out[table] = sorted(tuple((k, v) for k, v in dict(r).items() if k != "created_at") for r in rows)
    return out


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] and body["message"], body
    if code:
        assert body["code"] == code, body
    return body


async def test_register_then_again_is_idempotent(api):
    client, conn = api
    first = await client.put("/plants/p-1/site", json=site())
    assert first.status_code == 200, first.text
    assert first.json()["created"] == {
        "plant": True,
        "processes": ["p-1/roast"],
        "products": ["calcine"],
        "meters": ["p-1.kwh", "p-1.out"],
        "key": True,
    }
    meter = await conn.fetchrow("SELECT * FROM meters WHERE meter_id = 'p-1.kwh'")
    assert (meter["counter_modulus"], meter["reset_floor"], meter["interval_seconds"]) == (100000000, 5, 30)
    assert await conn.fetchval("SELECT stage FROM processes WHERE process_id = 'p-1/roast'") == "roasting"
    assert await conn.fetchval("SELECT name FROM products WHERE product_id = 'calcine'") == "Calcine"
    assert bytes(await conn.fetchval("SELECT public_key FROM plant_keys WHERE plant_id = 'p-1'")) == bytes(range(32))
    before = await registry(conn)

    again = await client.put("/plants/p-1/site", json=site())
    assert again.status_code == 200, again.text
    assert again.json()["created"] == {"plant": False, "processes": [], "products": [], "meters": [], "key": False}
    # The same values written differently (numbers as JSON numbers, a trailing zero) are the same row.
    same = site()
    same["meters"][0]["max_rate_per_hour"] = 90.0
    same["latitude"] = "40.60"
    assert (await client.put("/plants/p-1/site", json=same)).status_code == 200
    assert await registry(conn) == before


async def test_an_added_meter_is_created_and_the_rest_accepted(api):
    client, _ = api
    assert (await client.put("/plants/p-1/site", json=site())).status_code == 200
    more = site()
    more["meters"].append({**more["meters"][1], "meter_id": "p-1.kwh2"})
    resp = await client.put("/plants/p-1/site", json=more)
    assert resp.status_code == 200 and resp.json()["created"]["meters"] == ["p-1.kwh2"], resp.text


def _conflicts() -> dict[str, tuple]:
    def change(fn):
        body = site()
        fn(body)
        return body

    return {
        "plant name": (change(lambda b: b.update(name="Renamed")), "plant_differs", "name"),
        "process stage": (change(lambda b: b["processes"][0].update(stage="leaching")), "process_differs", "stage"),
        "product name": (change(lambda b: b["products"][0].update(name="Other")), "product_differs", "name"),
        "meter rate": (change(lambda b: b["meters"][0].update(max_rate_per_hour="91")), "meter_differs", "max_rate"),
        "meter unit": (change(lambda b: b["meters"][1].update(unit="MWh")), "meter_differs", "unit"),
        "key material": (change(lambda b: b["key"].update(public_key=OTHER_KEY)), "key_differs", "key material"),
    }


async def test_a_differing_site_is_refused_and_nothing_changes(api):
    client, conn = api
    assert (await client.put("/plants/p-1/site", json=site())).status_code == 200
    before = await registry(conn)
    for case, (body, code, needle) in _conflicts().items():
        body["meters"].append({**body["meters"][1], "meter_id": "p-1.new"})  # would be created if accepted
        refused = assert_error(await client.put("/plants/p-1/site", json=body), 409, code)
        assert needle in refused["message"], (case, refused)
        assert await registry(conn) == before, case


async def test_rows_of_another_plant_are_refused(api):
    client, conn = api
    assert (await client.put("/plants/p-1/site", json=site())).status_code == 200
    before = await registry(conn)
    thief = site("p-2")
    thief["meters"][1]["meter_id"] = "p-1.kwh"  # a meter p-1 owns
    body = assert_error(await client.put("/plants/p-2/site", json=thief), 409, "meter_differs")
    assert "process_id" in body["message"] and "p-1/roast" in body["message"]
    thief = site("p-2")
    thief["processes"][0]["process_id"] = "p-1/roast"  # a process of p-1
    for m in thief["meters"]:
        m["process_id"] = "p-1/roast"
    assert (
        "plant_id" in assert_error(await client.put("/plants/p-2/site", json=thief), 409, "process_differs")["message"]
    )
    assert await registry(conn) == before
    assert (await client.put("/plants/p-2/site", json=site("p-2"))).status_code == 200  # its own rows are fine


async def test_concurrent_registrations_of_one_site_both_succeed(api):
    client, conn = api
    first, second = await asyncio.gather(*(client.put("/plants/p-1/site", json=site()) for _ in range(2)))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert [first.json()["created"]["plant"], second.json()["created"]["plant"]].count(True) == 1
    assert await conn.fetchval("SELECT count(*) FROM meters") == 2


async def test_unknown_references_are_404(api):
    client, conn = api
    assert_error(await client.put("/plants/p-1/site", json={**site(), "organisation_id": "nope"}), 404)
    body = site()
    body["products"] = []  # the output meter names a product that is neither registered nor described
    assert "calcine" in assert_error(await client.put("/plants/p-1/site", json=body), 404, "unknown_product")["message"]
    assert await conn.fetchval("SELECT count(*) FROM plants") == 0


def _hostile() -> dict[str, tuple[str, object]]:
    def change(fn):
        body = copy.deepcopy(site())
        fn(body)
        return body

    big = "x" * 10_000_000
    return {
        "NUL in a meter id": ("/plants/p-1/site", change(lambda b: b["meters"][0].update(meter_id="m\x00x"))),
        "NUL in a name": ("/plants/p-1/site", change(lambda b: b.update(name="a\x00b"))),
        "10 MB name": ("/plants/p-1/site", change(lambda b: b.update(name=big))),
        "10 MB process name": ("/plants/p-1/site", change(lambda b: b["processes"][0].update(name=big))),
        "negative rate": ("/plants/p-1/site", change(lambda b: b["meters"][0].update(max_rate_per_hour="-5"))),
        "zero modulus": ("/plants/p-1/site", change(lambda b: b["meters"][1].update(counter_modulus=0))),
        "negative reset floor": ("/plants/p-1/site", change(lambda b: b["meters"][1].update(reset_floor="-1"))),
        "modulus on an interval meter": (
            "/plants/p-1/site",
            change(lambda b: b["meters"][0].update(counter_modulus="10")),
        ),
        "huge number": ("/plants/p-1/site", change(lambda b: b["meters"][0].update(max_rate_per_hour=10**40))),
        "NaN": ("/plants/p-1/site", change(lambda b: b["meters"][0].update(max_rate_per_hour="NaN"))),
        "latitude 95": ("/plants/p-1/site", change(lambda b: b.update(latitude=95))),
        "interval 0": ("/plants/p-1/site", change(lambda b: b["meters"][0].update(interval_seconds=0))),
        "unknown stage": ("/plants/p-1/site", change(lambda b: b["processes"][0].update(stage="cooking"))),
        "meter of an undescribed process": (
            "/plants/p-1/site",
            change(lambda b: b["meters"][0].update(process_id="p-1/other")),
        ),
        "duplicate meter": ("/plants/p-1/site", change(lambda b: b["meters"].append(b["meters"][0]))),
        "unit with junk": ("/plants/p-1/site", change(lambda b: b["meters"][0].update(unit="t; DROP TABLE"))),
        "short key": ("/plants/p-1/site", change(lambda b: b["key"].update(public_key="AAAA"))),
        "unknown field": ("/plants/p-1/site", change(lambda b: b.update(colour="blue"))),
        "NUL in the path": ("/plants/p%001/site", site()),
        "overlong path id": ("/plants/" + "p" * 200 + "/site", site()),
        "not an object": ("/plants/p-1/site", ["a", "list"]),
    }


async def test_hostile_input_is_a_4xx_with_a_body(api):
    client, conn = api
    for case, (path, body) in _hostile().items():
        resp = await client.put(path, json=body)
        assert 400 <= resp.status_code < 500, (case, resp.status_code, resp.text[:300])
        payload = resp.json()
        assert payload["code"] and payload["message"], case
        assert len(resp.content) < 20_000, case  # the refusal does not echo a huge input back
    assert await conn.fetchval("SELECT count(*) FROM plants") == 0


async def test_token_is_required(api):
    client, _ = api
    assert_error(await client.put("/plants/p-1/site", json=site(), headers={"Authorization": ""}), 401)
