"""Access: per-object recognition, token rejection (expired, wrong audience, alg none, HS256, tampered),
rate limits with Retry-After, and the token endpoint's OAuth2 errors."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time

import asyncpg
import httpx
import jwt as pyjwt
from conftest import KEY_SECRET, check_error, launch, stop
from gateway_seed import MAGNET, OXIDE, add_product, add_version

from epd_gateway import tokens
from epd_gateway.keystore import load_key_ring


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_client_cannot_see_records_its_agreement_does_not_recognise(gateway, db, pact):
    magnet = await add_version(db, await add_product(db, "ndfeb-magnet", MAGNET, org="org-b"))
    oxide = await add_version(db, await add_product(db, "ndpr-oxide", OXIDE))
    token_a, token_b = await gateway.token("a"), await gateway.token("b")
    async with gateway.client() as http:
        r = await http.get(f"/3/footprints/{magnet}", headers={"authorization": f"Bearer {token_a}"})
        check_error(pact, r, 404, "NotFound")
        r = await http.get(f"/3/footprints/{magnet}", headers={"authorization": f"Bearer {token_b}"})
        assert r.status_code == 200
        for fmt in ("ilcd", "openepd"):
            r = await http.get(
                f"/3/footprints/{magnet}", params={"format": fmt}, headers={"authorization": f"Bearer {token_a}"}
            )
            check_error(pact, r, 404, "NotFound")
        r = await http.get("/3/footprints", headers={"authorization": f"Bearer {token_b}"})
        assert [pf["id"] for pf in r.json()["data"]] == [str(magnet)]
        r = await http.get(f"/3/footprints/{oxide}", headers={"authorization": f"Bearer {token_b}"})
        check_error(pact, r, 404, "NotFound")


async def test_bad_tokens_are_rejected(gateway, db, pact):
    pool = await asyncpg.create_pool(gateway.dsn, min_size=1, max_size=1)
    try:
        ring = await load_key_ring(pool, KEY_SECRET)
    finally:
        await pool.close()
    good = await gateway.token("a")
    common = dict(
        client_id="client-a",
        partner_id="partner-a",
        scopes=frozenset({"footprint:list"}),
        issuer=gateway.env["EPD_GATEWAY_PUBLIC_URL"],
        ttl_seconds=60,
    )
    expired = tokens.issue(ring, audience="epd-gateway", now=time.time() - 3600, **common)
    wrong_aud = tokens.issue(ring, audience="someone-else", **common)
    claims = {
        "iss": common["issuer"],
        "sub": "client-a",
        "aud": "epd-gateway",
        "exp": int(time.time()) + 60,
        "scope": "footprint:list",
        "partner_id": "partner-a",
    }
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    hs256 = pyjwt.encode(claims, "secret-guessed-by-an-attacker-32b", algorithm="HS256", headers={"kid": ring.kid})
    head, body, sig = good.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["partner_id"] = "partner-all"
    tampered = f"{head}.{_b64(payload)}.{sig}"
    async with gateway.client() as http:
        r = await http.get("/3/footprints", headers={"authorization": f"Bearer {good}"})
        assert r.status_code == 200
        r = await http.get("/3/footprints", headers={"authorization": f"Bearer {expired}"})
        check_error(pact, r, 401, "TokenExpired")
        for bad in (wrong_aud, alg_none, hs256, tampered, "garbage", good[:-4] + "AAAA"):
            r = await http.get("/3/footprints", headers={"authorization": f"Bearer {bad}"})
            check_error(pact, r, 401, "AccessDenied")
        check_error(pact, await http.get("/3/footprints"), 401, "AccessDenied")


async def test_token_endpoint_errors(gateway):
    cid, secret = gateway.clients["a"]
    async with gateway.client() as http:
        r = await http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(cid, "wrong"))
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        r = await http.post("/auth/token", data={"grant_type": "password"}, auth=(cid, secret))
        assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
        r = await http.post(
            "/auth/token", data={"grant_type": "client_credentials", "scope": "admin"}, auth=(cid, secret)
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
        r = await http.post("/auth/token", data={"grant_type": "client_credentials"})
        assert r.status_code == 401
        r = await http.post(
            "/auth/token", data={"grant_type": "client_credentials", "scope": "footprint:read"}, auth=(cid, secret)
        )
        assert r.status_code == 200 and r.json()["expires_in"] <= 900
        token = r.json()["access_token"]
        # A read-only token cannot list.
        r = await http.get("/3/footprints", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 403 and r.json()["code"] == "AccessDenied"


def from_address(gw, address: str, **kw) -> httpx.AsyncClient:
    """A client whose requests come from another loopback address (127.0.0.0/8 is all local)."""
    context = ssl.create_default_context(cafile=str(gw.cert))
    transport = httpx.AsyncHTTPTransport(local_address=address, verify=context)
    return httpx.AsyncClient(base_url=gw.url, transport=transport, timeout=30, **kw)


async def test_rate_limits_answer_429_with_retry_after(gateway_db, tmp_path, pact):
    proc, gw = await launch(
        gateway_db,
        tmp_path,
        EPD_GATEWAY_RATE_PER_SECOND="0.01",
        EPD_GATEWAY_RATE_BURST="3",
        EPD_GATEWAY_TOKEN_RATE_PER_SECOND="0.01",
        EPD_GATEWAY_TOKEN_RATE_BURST="2",
    )
    form = {"grant_type": "client_credentials"}
    try:
        async with from_address(gw, "127.0.0.3") as http:
            r = await http.post("/auth/token", data=form, auth=gw.clients["a"])
            token = r.json()["access_token"]
        async with gw.client(headers={"authorization": f"Bearer {token}"}) as http:
            statuses = [(await http.get("/3/footprints")).status_code for _ in range(3)]
            assert statuses == [200, 200, 200]
            r = await http.get("/3/footprints")
            check_error(pact, r, 429)
            assert int(r.headers["retry-after"]) >= 1
        cid, secret = gw.clients["b"]
        # Someone who only knows the client id is limited by their own address, and locks nobody out.
        async with from_address(gw, "127.0.0.2") as attacker:
            codes = [(await attacker.post("/auth/token", data=form, auth=(cid, "guess"))).status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        # The client itself is limited once authenticated, whatever address it comes from.
        async with from_address(gw, "127.0.0.4") as one, from_address(gw, "127.0.0.5") as other:
            codes = [(await one.post("/auth/token", data=form, auth=(cid, secret))).status_code for _ in range(2)]
            r = await other.post("/auth/token", data=form, auth=(cid, secret))
        assert codes == [200, 200] and r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    finally:
        await asyncio.to_thread(stop, proc)
