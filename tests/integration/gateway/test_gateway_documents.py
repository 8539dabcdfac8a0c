"""ILCD+EPD and openEPD documents are stored bytes like PACT records, and records and documents are
rendered ahead: when a version is created or changes, before anyone asks (two real gateway processes,
real PostgreSQL)."""

from __future__ import annotations

import asyncio
import time

import httpx
from gateway_replicas import replicas, stored_rows
from gateway_seed import OXIDE, add_product, add_version

from epd_records.signing import verify_payload
from tests.support.gateway_process import Gateway

ALL = {("ilcd", False), ("openepd", False), ("ilcd", True), ("openepd", True)}
FORMAT_TYPES = {"ilcd": "application/xml", "openepd": "application/vnd.openepd+json"}


async def documents(db) -> dict:
    rows = await db.fetch(
        "SELECT pf_id, format, accepts_provisional, kid, stamp, body, signature, rendered_at FROM gateway_documents"
    )
    return {(r["pf_id"], r["format"], r["accepts_provisional"]): r for r in rows}


async def current_documents(db, pf) -> set[tuple[str, bool]]:
    rows = await db.fetch(
        "SELECT d.format, d.accepts_provisional FROM gateway_documents d "
        "JOIN gateway_inputs i ON i.pf_id = d.pf_id AND i.stamp = d.stamp WHERE d.pf_id = $1",
        pf,
    )
    return {(r["format"], r["accepts_provisional"]) for r in rows}


async def until(what: str, check, within_s: float = 90.0) -> None:
    """Poll `check` until it holds; the deadline is generous (render-ahead polls every 0.2 s)."""
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        await asyncio.sleep(0.1)


async def get(gw: Gateway, token: str, pf, fmt: str) -> httpx.Response:
    async with gw.client(headers={"authorization": f"Bearer {token}"}) as http:
        return await http.get(f"/3/footprints/{pf}", params={"format": fmt})


async def test_records_and_documents_are_rendered_ahead_of_the_first_read(gateway_db, db, tmp_path):
    before = await add_version(db, await add_product(db, "ahead-oxide", OXIDE))
    async with replicas(gateway_db, tmp_path, EPD_GATEWAY_RENDER_AHEAD_SECONDS="0.2") as (one, two):
        created = await add_version(db, await add_product(db, "ahead-oxide-2", OXIDE))
        # Neither replica has been asked for anything: a version from before they started, and a new one.
        for pf in (before, created):
            await until(f"documents of {pf}", lambda pf=pf: _holds(current_documents(db, pf), ALL))
            await until(f"records of {pf}", lambda pf=pf: _has_records(db, pf))
        stored = await documents(db)
        token = await one.token("a")
        async with one.client() as http:
            jwks = (await http.get("/.well-known/jwks.json")).json()
        for gw in (one, two):
            for fmt, media in FORMAT_TYPES.items():
                r = await get(gw, token, created, fmt)
                assert r.status_code == 200 and r.headers["content-type"].startswith(media), r.text[:300]
                row = stored[(created, fmt, False)]
                assert r.content == bytes(row["body"]) and r.headers["x-epd-signature"] == row["signature"]
                assert verify_payload(r.content, r.headers["x-epd-signature"], jwks) == row["kid"]
        assert await documents(db) == stored  # served as stored: nothing rendered again

        # A change of the version's inputs (its product's name): rendered again ahead, never served stale.
        await db.execute("UPDATE products SET name = 'Lanthanum oxide 4N' WHERE product_id = 'ahead-oxide-2'")
        assert b"Lanthanum oxide 4N" in (await get(two, token, created, "openepd")).content
        await until("documents rendered again", lambda: _holds(current_documents(db, created), ALL))
        again = await documents(db)
        assert all(b"Lanthanum oxide 4N" in bytes(again[(created, f, p)]["body"]) for f, p in ALL)
        assert again[(before, "ilcd", False)] == stored[(before, "ilcd", False)]  # the other version stays

        # A status change (withdrawal of a published version): the stored record follows it too.
        await db.execute("UPDATE epd_versions SET status = 'withdrawn' WHERE pf_id = $1", before)
        await until("the withdrawal rendered ahead", lambda: _has_records(db, before))
        record = await get(one, token, before, "pact")
        assert record.status_code == 200 and record.json()["data"]["status"] == "Deprecated"


async def _holds(found, expected) -> bool:
    return await found == expected


async def _has_records(db, pf) -> bool:
    """Both viewer variants' records of `pf`, rendered from its current inputs."""
    rows = await stored_rows(db)
    stamp = await db.fetchval("SELECT stamp FROM gateway_inputs WHERE pf_id = $1", pf)
    return all(key in rows and rows[key]["stamp"] == stamp for key in ((pf, False), (pf, True)))


async def test_documents_render_on_first_read_are_shared_by_replicas_and_never_stale(gateway_db, db, tmp_path):
    pf = await add_version(db, await add_product(db, "read-oxide", OXIDE))
    unmappable = await add_version(db, await add_product(db, "read-oxide-2", OXIDE), version=12000)
    async with replicas(gateway_db, tmp_path) as (one, two):  # render-ahead off: only reads render
        token = await one.token("a")
        first = await get(one, token, pf, "ilcd")
        assert first.status_code == 200
        stored = await documents(db)
        assert set(stored) == {(pf, "ilcd", False)}  # one format, the reader's variant, on demand
        assert (await get(two, token, pf, "ilcd")).content == first.content
        assert await documents(db) == stored  # the other replica served the stored bytes

        # A stored document from older inputs is not served (a replica that rendered late, or an edit).
        await db.execute("UPDATE organisations SET name = 'Renamed Refining Co.' WHERE organisation_id = 'org-a'")
        renamed = await get(two, token, pf, "ilcd")
        assert b"Renamed Refining Co." in renamed.content and b"Renamed Refining Co." not in first.content
        assert (await current_documents(db, pf)) == {("ilcd", False)}

        # A version that cannot be written as ILCD+EPD: 404 with the reason, openEPD still served.
        refused = await get(one, token, unmappable, "ilcd")
        assert refused.status_code == 404 and "cannot be expressed as ilcd" in refused.json()["message"]
        assert (await get(one, token, unmappable, "openepd")).status_code == 200
        assert await current_documents(db, unmappable) == {("openepd", False)}
