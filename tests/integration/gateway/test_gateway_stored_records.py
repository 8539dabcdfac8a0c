"""Two gateway processes on one database serve the same stored bytes, never a stale record, and share
each client's rate-limit budget (stored records and token buckets live in PostgreSQL)."""

from __future__ import annotations

import asyncio
import json

from gateway_replicas import replicas, stored_rows
from gateway_seed import OXIDE, add_product, add_version, agreement
from typer.testing import CliRunner

from tests.support.gateway_process import Gateway


async def test_replicas_serve_the_same_stored_bytes_and_never_a_stale_record(gateway_db, db, tmp_path):
    await db.execute(
        "UPDATE partners SET agreement = $1::jsonb WHERE partner_id = 'partner-all'",
        json.dumps(agreement("partner-all", [OXIDE], provisional=True)),
    )
    series = await add_product(db, "stored-oxide", OXIDE)
    old = await add_version(db, series)
    other = await add_version(db, await add_product(db, "stored-oxide-2", OXIDE))
    async with replicas(gateway_db, tmp_path) as (one, two):
        tokens = {name: await one.token(name) for name in ("a", "all")}

        async def listing(gw: Gateway, client: str = "a") -> tuple[bytes, dict[str, dict]]:
            async with gw.client(headers={"authorization": f"Bearer {tokens[client]}"}) as http:
                r = await http.get("/3/footprints", params={"limit": 50})
            assert r.status_code == 200, r.text
            return r.content, {pf["id"]: pf for pf in r.json()["data"]}

        async def read(gw: Gateway, pf, client: str = "a") -> dict:
            async with gw.client(headers={"authorization": f"Bearer {tokens[client]}"}) as http:
                r = await http.get(f"/3/footprints/{pf}")
            assert r.status_code == 200, r.text
            return r.json()["data"]

        body_one, first = await listing(one)
        rendered = await stored_rows(db)
        assert set(rendered) == {(old, False), (other, False)}
        assert {bytes(r["body"]) for r in rendered.values()} <= set(
            json.dumps(pf, ensure_ascii=False, separators=(",", ":")).encode() for pf in first.values()
        )
        body_two, _ = await listing(two)
        assert body_two == body_one  # the other replica serves the stored bytes as they are
        assert await stored_rows(db) == rendered  # ... without rendering them again

        # An input the version does not own: the owner's name.
        await db.execute("UPDATE organisations SET name = 'Renamed Refining Co.' WHERE organisation_id = 'org-a'")
        _, renamed = await listing(two)
        assert {pf["companyName"] for pf in renamed.values()} == {"Renamed Refining Co."}
        assert (await read(one, other))["companyName"] == "Renamed Refining Co."

        # A stored record from before the change (a replica that rendered from older inputs, late) is not served.
        fresh = (await stored_rows(db))[(other, False)]
        await db.execute(
            "UPDATE gateway_records SET stamp = $2, body = $3 WHERE pf_id = $1 AND NOT accepts_provisional",
            other,
            rendered[(other, False)]["stamp"],
            rendered[(other, False)]["body"],
        )
        assert (await read(two, other))["companyName"] == "Renamed Refining Co."
        assert bytes((await stored_rows(db))[(other, False)]["body"]) == bytes(fresh["body"])

        # The product's classifications and name.
        await db.execute(
            "UPDATE products SET name = 'Cerium oxide', classifications = '{hs:2846.90.10}' "
            "WHERE product_id = 'stored-oxide'"
        )
        record = await read(one, old)
        assert record["productNameCompany"] == "Cerium oxide"
        assert record["productClassifications"] == ["urn:pact:productclassification:hs:2846.90.10"]

        # A provisional successor: Deprecated for a viewer accepting provisional versions, Active for the others.
        successor = await add_version(db, series, 2, status="provisional", preceding=old, valid_from=None)
        _, with_provisional = await listing(two, "all")
        assert with_provisional[str(old)]["status"] == "Deprecated"
        assert with_provisional[str(successor)]["status"] == "Active"
        _, public = await listing(one)
        assert public[str(old)]["status"] == "Active" and str(successor) not in public

        # Status changes: withdrawal, expiry (the footprint service moves a version past its validity).
        await db.execute("UPDATE epd_versions SET status = 'withdrawn' WHERE pf_id = $1", successor)
        await db.execute("UPDATE epd_versions SET status = 'expired' WHERE pf_id = $1", other)
        _, after = await listing(one, "all")
        assert after[str(old)]["status"] == "Active"  # the successor went away
        assert after[str(successor)]["status"] == "Deprecated"
        assert after[str(other)]["status"] == "Deprecated"
        assert (await read(two, other))["status"] == "Deprecated"
        _, public = await listing(two)
        assert str(successor) not in public and public[str(other)]["status"] == "Deprecated"


async def test_materialise_renders_ahead_and_drops_retired_keys(gateway_db, db, tmp_path):
    for i in range(3):
        await add_version(db, await add_product(db, f"ahead-{i}", OXIDE))
    async with replicas(gateway_db, tmp_path) as (one, _):
        env = {k: v for k, v in one.env.items() if k.startswith("EPD_")}
        from epd_gateway.cli import app

        result = await asyncio.to_thread(CliRunner().invoke, app, ["materialise"], env=env)
        assert result.exit_code == 0, result.output
        done = json.loads(result.stdout)
        assert done["rendered"] == {"False": 3, "True": 3} and done["retired_deleted"] == 0
        before = await stored_rows(db)
        async with one.client(headers={"authorization": f"Bearer {await one.token('a')}"}) as http:
            r = await http.get("/3/footprints")
        assert r.status_code == 200 and len(r.json()["data"]) == 3
        assert await stored_rows(db) == before  # served from what was rendered ahead
        # The bodies (~3 KB) are in the rows (0017_gateway_records_inline): a page reads no TOAST chunks.
        toasted = await db.fetchval(
            "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'gateway_records'::regclass"
        )
        assert toasted == 0 and min(len(r["body"]) for r in before.values()) > 2100

        # --documents: the versions with no current documents, with all their records and documents (both
        # variants: 3 x 2 records, already stored, and 3 x 2 x 2 documents, counted in the first pass).
        docs = json.loads(
            (await asyncio.to_thread(CliRunner().invoke, app, ["materialise", "--documents"], env=env)).stdout
        )
        assert docs["documents"] == {"False": 18, "True": 0} and docs["rendered"] == {"False": 0, "True": 0}
        assert await db.fetchval("SELECT count(*) FROM gateway_documents") == 12
        assert await stored_rows(db) == before  # the records' bytes were current: not written again

        rotated = await asyncio.to_thread(CliRunner().invoke, app, ["rotate-key"], env=env)
        assert rotated.exit_code == 0, rotated.output
        again = json.loads((await asyncio.to_thread(CliRunner().invoke, app, ["materialise"], env=env)).stdout)
        assert again["kid"] == json.loads(rotated.stdout)["kid"]
        assert again["rendered"] == {"False": 3, "True": 3} and again["retired_deleted"] == 6 + 12
        assert {r["kid"] for r in (await stored_rows(db)).values()} == {again["kid"]}


async def test_replicas_share_each_clients_rate_limit(gateway_db, tmp_path):
    # A budget of 6 requests that refills one request per ~17 minutes: the test never sees a refill.
    limits = {"EPD_GATEWAY_RATE_PER_SECOND": "0.001", "EPD_GATEWAY_RATE_BURST": "6"}
    async with replicas(gateway_db, tmp_path, **limits) as (one, two):
        token_a, token_b = await one.token("a"), await two.token("b")

        async def statuses(gw: Gateway, token: str, n: int) -> list[int]:
            async with gw.client(headers={"authorization": f"Bearer {token}"}) as http:
                return [(await http.get("/3/footprints", params={"limit": 1})).status_code for _ in range(n)]

        assert await statuses(one, token_a, 4) == [200] * 4
        assert await statuses(two, token_a, 4) == [200, 200, 429, 429]  # the same client's budget, spent on one
        assert await statuses(one, token_a, 1) == [429]
        assert await statuses(two, token_b, 2) == [200, 200]  # another client has its own
        async with two.client(headers={"authorization": f"Bearer {token_a}"}) as http:
            r = await http.get("/3/footprints")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["code"] == "BadRequest"
