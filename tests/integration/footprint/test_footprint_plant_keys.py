"""A plant's keys through the admin API over real HTTP on a fresh database: listed with their status;
retired only while another key stays in force (409 no_key_left), never after a revocation; revoked once,
with a reason and an effective time (a different second revocation is a 409); hostile input is a 4xx
with a JSON `{code, message}`, never a 500."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from epd_connector.keys import key_id_for
from epd_connector.signing import generate_private_key, load_private_key, public_key_to_raw
from tests.integration.admin_api import TOKEN, running_admin_api
from tests.integration.connector.telemetry_support import plant_yaml, register_at


@pytest.fixture
async def plant(fresh_db, tmp_path, unique):
    """(client, plant id, its registered key id)."""
    path = plant_yaml(tmp_path, f"pk{unique[:6]}", unique, pin_key_id=False)
    async with running_admin_api(fresh_db) as url:
        key_file = await register_at(url, path, tmp_path)
        key_id = key_id_for(load_private_key(key_file.read_bytes()).public_key())
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            yield client, f"pk{unique[:6]}", key_id


async def add_key(client: httpx.AsyncClient, plant_id: str) -> str:
    public = generate_private_key().public_key()
    key_id = key_id_for(public)
    body = {"key_id": key_id, "public_key": base64.b64encode(public_key_to_raw(public)).decode()}
    resp = await client.post(f"/plants/{plant_id}/keys", json=body)
    assert resp.status_code == 201, resp.text
    return key_id


def refused(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert isinstance(body.get("code"), str) and body["code"] and isinstance(body.get("message"), str), body
    if code is not None:
        assert body["code"] == code, body
    return body


async def keys(client: httpx.AsyncClient, plant_id: str) -> dict[str, dict]:
    resp = await client.get(f"/plants/{plant_id}/keys")
    assert resp.status_code == 200, resp.text
    assert resp.json()["plant_id"] == plant_id
    return {k["key_id"]: k for k in resp.json()["keys"]}


async def test_retire_never_leaves_the_plant_without_a_key(plant):
    client, pid, k1 = plant
    listed = await keys(client, pid)
    assert list(listed) == [k1]
    assert listed[k1]["status"] == "active" and listed[k1]["retired_at"] is None and listed[k1]["revoked_at"] is None
    assert datetime.fromisoformat(listed[k1]["created_at"]) <= datetime.now(UTC)

    refused(await client.post(f"/plants/{pid}/keys/{k1}/retire", json={}), 409, "no_key_left")

    k2 = await add_key(client, pid)
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    resp = await client.post(f"/plants/{pid}/keys/{k1}/retire", json={"effective_at": later.isoformat()})
    assert resp.status_code == 200, resp.text
    assert datetime.fromisoformat(resp.json()["retired_at"]) == later and resp.json()["status"] == "active"
    again = await client.post(f"/plants/{pid}/keys/{k1}/retire", json={"effective_at": later.isoformat()})
    assert again.status_code == 200 and again.json() == resp.json()  # a retried request changes nothing
    refused(await client.post(f"/plants/{pid}/keys/{k1}/retire", json={}), 409, "key_retired")

    # k1 is still in force now, but stops within the hour: retiring k2 now would leave the plant without a
    # key from then on.
    refused(await client.post(f"/plants/{pid}/keys/{k2}/retire", json={}), 409, "no_key_left")
    k3 = await add_key(client, pid)
    resp = await client.post(f"/plants/{pid}/keys/{k2}/retire", json={})
    assert resp.status_code == 200 and resp.json()["status"] == "retired", resp.text
    listed = await keys(client, pid)
    assert {k: v["status"] for k, v in listed.items()} == {k1: "active", k2: "retired", k3: "active"}


async def test_revoke_once_with_reason_and_effective_time(plant):
    client, pid, k1 = plant
    since = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    body = {"reason": "key file copied to a laptop that was stolen", "effective_at": since.isoformat()}
    resp = await client.post(f"/plants/{pid}/keys/{k1}/revoke", json=body)  # even the last key in force
    assert resp.status_code == 200, resp.text
    revoked = resp.json()
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == body["reason"]
    assert datetime.fromisoformat(revoked["revoked_at"]) == since
    assert (await keys(client, pid))[k1] == revoked

    retry = await client.post(f"/plants/{pid}/keys/{k1}/revoke", json=body)
    assert retry.status_code == 200 and retry.json() == revoked  # the same request again: nothing changes
    refused(await client.post(f"/plants/{pid}/keys/{k1}/revoke", json={"reason": "another"}), 409, "key_revoked")
    moved = {**body, "effective_at": (since + timedelta(hours=1)).isoformat()}
    refused(await client.post(f"/plants/{pid}/keys/{k1}/revoke", json=moved), 409, "key_revoked")
    refused(await client.post(f"/plants/{pid}/keys/{k1}/retire", json={}), 409, "key_revoked")
    assert (await keys(client, pid))[k1] == revoked


async def test_hostile_input_is_a_4xx_with_a_body(plant):
    client, pid, k1 = plant
    k2 = await add_key(client, pid)
    revoke, retire = f"/plants/{pid}/keys/{k1}/revoke", f"/plants/{pid}/keys/{k1}/retire"
    cases = [  # (method, path, JSON body or raw bytes, status, code)
        ("POST", revoke, {}, 422, "invalid_request"),
        ("POST", revoke, {"reason": ""}, 422, "invalid_request"),
        ("POST", revoke, {"reason": "x" * 100_000}, 422, "invalid_request"),
        ("POST", revoke, {"reason": "leak\x00"}, 422, "invalid_request"),
        ("POST", revoke, {"reason": ["leak"]}, 422, "invalid_request"),
        ("POST", revoke, {"reason": "leak", "effective_at": "2026-01-01T00:00:00"}, 422, "invalid_request"),
        ("POST", revoke, {"reason": "leak", "effective_at": "yesterday"}, 422, "invalid_request"),
        ("POST", revoke, {"reason": "leak", "effective_at": "0001-01-01T00:00:00+14:00"}, 422, "invalid_value"),
        ("POST", revoke, {"reason": "leak", "effective_at": "9999-12-31T23:59:59-14:00"}, 422, "invalid_value"),
        ("POST", revoke, {"reason": "leak", "extra": 1}, 422, "invalid_request"),
        ("POST", revoke, b"{not json", 422, "invalid_request"),
        ("POST", retire, {"effective_at": "2026-01-01T00:00:00"}, 422, "invalid_request"),
        ("POST", retire, {"effective_at": "0001-01-01T00:00:00+14:00"}, 422, "invalid_value"),
        ("POST", retire, b'{"effective_at": 1e400}', 422, "invalid_request"),
        ("POST", f"/plants/{pid}/keys/no-such-key/revoke", {"reason": "leak"}, 404, "unknown_key"),
        ("POST", f"/plants/{pid}/keys/no-such-key/retire", {}, 404, "unknown_key"),
        ("POST", f"/plants/no-such-plant/keys/{k1}/retire", {}, 404, "unknown_plant"),
        ("POST", f"/plants/no-such-plant/keys/{k1}/revoke", {"reason": "leak"}, 404, "unknown_plant"),
        ("GET", "/plants/no-such-plant/keys", None, 404, "unknown_plant"),
        ("GET", f"/plants/{'p' * 300}/keys", None, 422, "invalid_request"),
        ("POST", f"/plants/{pid}/keys/{'k' * 300}/revoke", {"reason": "leak"}, 422, "invalid_request"),
    ]
    for method, path, body, status, code in cases:
        kw = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, bytes) else {}
        resp = await client.request(method, path, json=None if isinstance(body, bytes) else body, **kw)
        assert resp.status_code < 500, (method, path, body, resp.text[:300])
        refused(resp, status, code)
    for token in ("", "Bearer wrong-token-wrong-token", f"Basic {TOKEN}"):
        resp = await client.post(revoke, json={"reason": "leak"}, headers={"Authorization": token})
        refused(resp, 401, "unauthorized")
        refused(await client.get(f"/plants/{pid}/keys", headers={"Authorization": token}), 401, "unauthorized")
    # Nothing above changed a key.
    assert {k: (v["status"], v["revoked_at"], v["retired_at"]) for k, v in (await keys(client, pid)).items()} == {
        k1: ("active", None, None),
        k2: ("active", None, None),
    }
