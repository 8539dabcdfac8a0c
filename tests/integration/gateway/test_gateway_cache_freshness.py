"""The signed-record cache never serves a stale record: a status change, an edited organisation and a
key rotation each show up on the next listing, and every listed record verifies against the JWKS."""

from __future__ import annotations

import asyncio
import json

from gateway_seed import OXIDE, add_product, add_version, publish_new_version
from typer.testing import CliRunner

from epd_records.record import split_signature
from epd_records.signing import verify_record


def verify_all(records: list[dict], jwks: dict) -> set[str]:
    kids = set()
    for pf in records:
        signed, jws = split_signature(pf)
        kids.add(verify_record(signed, jws, jwks))
    return kids


async def test_cached_records_follow_status_party_and_key_changes(gateway, db):
    series = await add_product(db, "cache-oxide", OXIDE)
    old = await add_version(db, series)
    other = await add_version(db, await add_product(db, "cache-oxide-2", OXIDE))
    token = await gateway.token("a")
    async with gateway.client(headers={"authorization": f"Bearer {token}"}) as http:

        async def listing() -> dict[str, dict]:
            r = await http.get("/3/footprints", params={"limit": 50})
            assert r.status_code == 200, r.text
            jwks = (await http.get("/.well-known/jwks.json")).json()
            data = r.json()["data"]
            assert verify_all(data, jwks) == {r.headers["x-epd-signature-kid"]}
            return {pf["id"]: pf for pf in data}

        first = await listing()
        assert first == await listing()  # served twice (the second time from the cache): identical
        assert first[str(old)]["status"] == "Active"

        new = await publish_new_version(db, series, old, 2)  # status change of a cached version
        second = await listing()
        assert second[str(old)]["status"] == "Deprecated"
        assert second[str(new)]["precedingPfIds"] == [str(old)]

        await db.execute("UPDATE organisations SET name = 'Renamed Refining Co.' WHERE organisation_id = 'org-a'")
        third = await listing()
        assert {pf["companyName"] for pf in third.values()} == {"Renamed Refining Co."}
        assert third[str(other)]["status"] == "Active"

        env = {k: v for k, v in gateway.env.items() if k.startswith("EPD_")}
        from epd_gateway.cli import app

        result = await asyncio.to_thread(CliRunner().invoke, app, ["rotate-key"], env=env)
        assert result.exit_code == 0, result.output
        fourth_response = await http.get("/3/footprints", params={"limit": 50})
        assert fourth_response.headers["x-epd-signature-kid"] == json.loads(result.stdout)["kid"]
        fourth = await listing()
        assert set(fourth) == set(third)
