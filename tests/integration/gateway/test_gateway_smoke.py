"""The real gateway over HTTPS: token, list, get, formats, JWKS; plain HTTP refused."""

from __future__ import annotations

import httpx
import pytest
from gateway_seed import MAGNET, OXIDE, add_product, add_version


async def test_token_list_get_over_https(gateway, db):
    oxide = await add_version(db, await add_product(db, "ndpr-oxide", OXIDE))
    magnet = await add_version(db, await add_product(db, "ndfeb-magnet", MAGNET, org="org-b"))
    token = await gateway.token("a")
    async with gateway.client(headers={"authorization": f"Bearer {token}"}) as http:
        r = await http.get("/3/footprints")
        assert r.status_code == 200, r.text
        ids = [pf["id"] for pf in r.json()["data"]]
        assert ids == [str(oxide)]
        r = await http.get(f"/3/footprints/{oxide}")
        assert r.status_code == 200 and r.json()["data"]["id"] == str(oxide)
        assert r.headers["x-epd-signature"].count(".") == 2
        r = await http.get(f"/3/footprints/{magnet}")
        assert r.status_code == 404 and r.json()["code"] == "NotFound"


async def test_plain_http_is_refused(gateway):
    async with httpx.AsyncClient(timeout=5) as http:
        # The TLS server never answers plain HTTP with an HTTP response: the connection is dropped.
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
            await http.get(f"http://127.0.0.1:{gateway.port}/health")
