"""Signed downloads equal the gateway's documents and verify against the programme's JWKS; operators
approve and reject through the footprint admin API with their own token; the database role is read-only."""

from __future__ import annotations

import json
import re

import asyncpg
import pytest
from conftest import ADMIN_TOKEN, KEY_SECRET, reader_dsn

from epd_records.record import verify_pact_record
from epd_records.signing import verify_payload


async def gateway_body(dsn: str, pf_id, fmt: str) -> bytes:
    """What the gateway answers a partner without provisional versions (the public's terms)."""
    from epd_gateway.catalogue import Catalogue
    from epd_gateway.keystore import load_key_ring
    from epd_gateway.repository import Repository
    from epd_records.party import ProgrammeInfo
    from epd_records.recognition import RecognitionAgreement

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        agreement = RecognitionAgreement.model_validate(
            {
                "partner_id": "p",
                "product_classes": ["hs:2846"],
                "pcrs": [{"pcr_id": "pcr-rare-earths"}],
                "standards": ["EN 15804+A2"],
            }
        )
        ring = await load_key_ring(pool, KEY_SECRET)
        catalogue = Catalogue(Repository(pool, ""), ProgrammeInfo("National Rare-Earth EPD Programme"))
        if fmt == "pact":
            record = await catalogue.get(agreement, pf_id, ring)
            assert record is not None
            return b'{"data":' + record.body + b"}"
        document = await catalogue.document(agreement, pf_id, "ilcd", ring)
        assert document is not None
        return document.body
    finally:
        await pool.close()


async def test_downloads_are_the_gateways_signed_documents(portal):
    jwks = (await portal.http.get("/.well-known/jwks.json")).json()
    assert jwks["keys"] and all("d" not in k for k in jwks["keys"])
    pf = portal.seeded.pf["oxide-2"]
    for fmt in ("pact", "ilcd", "openepd"):
        r = await portal.http.get(f"/versions/{pf}/{fmt}")
        assert r.status_code == 200, r.text
        assert "attachment" in r.headers["content-disposition"]
        signature = (await portal.http.get(f"/versions/{pf}/{fmt}/signature")).text
        assert signature == r.headers["x-epd-signature"]
        assert verify_payload(r.content, signature, jwks) == r.headers["x-epd-signature-kid"]
        if fmt == "pact":
            assert verify_pact_record(json.loads(r.content)["data"], jwks)
        if fmt in ("pact", "ilcd"):
            assert r.content == await gateway_body(portal.owner_dsn, pf, fmt)
    for hidden in ("oxide-3", "carbonate-1"):  # provisional, rejected: not public
        assert (await portal.http.get(f"/versions/{portal.seeded.pf[hidden]}/pact")).status_code == 404


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def test_operator_logs_in_and_approves_through_the_admin_api(portal):
    bad = await portal.http.post("/operator/login", data={"token": "wrong-token-wrong-token"})
    assert bad.status_code == 401 and "not accepted" in bad.text and "epd_portal_session" not in bad.cookies
    # No name is typed in: the session names the key's user as the admin API knows it (GET /me).
    ok = await portal.http.post("/operator/login", data={"token": ADMIN_TOKEN, "verifier": "Someone Else"})
    assert ok.status_code == 303 and ok.headers["location"] == "/operator"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and ADMIN_TOKEN not in cookie  # sealed
    queue = await portal.http.get("/operator")
    assert queue.headers["cache-control"] == "private, no-store" and "Neodymium oxide" in queue.text
    assert "Li Verifier" in queue.text and "Someone Else" not in queue.text
    page = (await portal.http.get("/products/nd-oxide")).text
    pf = portal.seeded.pf["oxide-3"]
    assert f"/operator/versions/{pf}/approve" in page and 'data-series="versions"' in page
    forged = await portal.http.post(f"/operator/versions/{pf}/approve", data={"csrf": "forged"})
    assert forged.headers["location"] == "/operator/login" and portal.admin.calls == [("GET", "/me", {})]
    # the login above made the session; a forged token logged it out: log in again
    await portal.http.post("/operator/login", data={"token": ADMIN_TOKEN})
    csrf = csrf_of((await portal.http.get("/products/nd-oxide")).text)
    done = await portal.http.post(f"/operator/versions/{pf}/approve", data={"csrf": csrf, "verifier": "X"})
    assert done.status_code == 303 and done.headers["location"].endswith("notice=approved")
    assert portal.admin.calls[-1] == ("POST", f"/versions/{pf}/approve", {})  # the API records the key's user
    rejected = await portal.http.post(f"/operator/versions/{pf}/reject", data={"csrf": csrf, "reason": "noisy meter"})
    assert rejected.status_code == 303
    assert portal.admin.calls[-1] == ("POST", f"/versions/{pf}/reject", {"reason": "noisy meter"})
    await portal.http.post("/operator/logout", data={"csrf": csrf})
    assert "/approve" not in (await portal.http.get("/products/nd-oxide")).text


async def test_the_role_is_read_only(portal):
    from epd_portal.errors import UnsafeDatabaseRole
    from epd_portal.repository import Repository

    reader = await asyncpg.connect(reader_dsn(portal.owner_dsn))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("UPDATE epd_versions SET status = 'withdrawn'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.fetch("SELECT latitude FROM plants")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.fetch("SELECT payload FROM outbox")
    finally:
        await reader.close()
    owner = await asyncpg.create_pool(portal.owner_dsn, min_size=1, max_size=1)
    try:
        with pytest.raises(UnsafeDatabaseRole):
            await Repository(owner).check_read_only()
    finally:
        await owner.close()


async def test_the_sql_of_who_sees_what_agrees_with_the_record_model(portal):
    """queries.visible (lists and feeds filter in SQL) decides as epd_records.status.served_status does."""
    from epd_portal import queries
    from epd_portal.views import OPERATOR
    from epd_records import readmodel
    from epd_records.status import PUBLIC, served_status

    reader = await asyncpg.connect(reader_dsn(portal.owner_dsn))
    try:
        rows = await reader.fetch(readmodel.VERSION_SELECT)
        statuses = {r["status"] for r in rows}
        assert {"published", "deprecated", "provisional", "withdrawn"} <= statuses
        for operator, viewer in ((False, PUBLIC), (True, OPERATOR)):
            sql = f"SELECT v.pf_id FROM epd_versions v WHERE {queries.visible('v', operator)}"
            seen = {r["pf_id"] for r in await reader.fetch(sql)}
            expected = {r["pf_id"] for r in rows if served_status(readmodel.footprint_version(r, (), ()), viewer)}
            assert seen == expected, operator
    finally:
        await reader.close()
