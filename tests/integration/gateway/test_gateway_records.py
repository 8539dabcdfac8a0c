"""Signatures (jwcrypto and PyJWT over JWKS fetched via HTTPS, across a key rotation), ILCD+EPD and
openEPD documents, pagination under concurrent publishing, and PACT events."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import jwt
import pytest
from conftest import check_error, check_list
from gateway_seed import OXIDE, add_product, add_version, publish_new_version
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws
from typer.testing import CliRunner

from epd_records.record import split_signature
from epd_records.signing import canonical_json
from tests.conftest import shared_spec


def verify_both(payload: bytes, signature: str, jwks: dict) -> None:
    kid = jwt.get_unverified_header(signature)["kid"]
    jwt.api_jws.PyJWS().decode_complete(
        signature, jwt.PyJWKSet.from_dict(jwks)[kid], algorithms=["EdDSA"], detached_payload=payload
    )
    token = jc_jws.JWS()
    token.deserialize(signature)
    token.verify(jc_jwk.JWKSet.from_json(json.dumps(jwks)).get_key(kid), alg="EdDSA", detached_payload=payload)


def signed_parts(pf: dict) -> tuple[bytes, str]:
    signed, jws = split_signature(pf)
    return canonical_json(signed), jws


async def test_signatures_verify_after_rotation_and_fail_on_one_byte(gateway, db):
    pf_id = await add_version(db, await add_product(db, "ndpr-oxide", OXIDE))
    token = await gateway.token("a")
    async with gateway.client(headers={"authorization": f"Bearer {token}"}) as http:
        before = (await http.get(f"/3/footprints/{pf_id}")).json()["data"]
        env = {k: v for k, v in gateway.env.items() if k.startswith("EPD_")}
        from epd_gateway.cli import app

        result = await asyncio.to_thread(CliRunner().invoke, app, ["rotate-key"], env=env)
        assert result.exit_code == 0, result.output
        new_kid = json.loads(result.stdout)["kid"]
        jwks = (await http.get("/.well-known/jwks.json")).json()
        after = (await http.get(f"/3/footprints/{pf_id}")).json()["data"]
    payload, sig_before = signed_parts(before)
    verify_both(payload, sig_before, jwks)  # signed with the retired key, still verifies
    payload_after, sig_after = signed_parts(after)
    assert jwt.get_unverified_header(sig_after)["kid"] == new_kid != jwt.get_unverified_header(sig_before)["kid"]
    verify_both(payload_after, sig_after, jwks)
    assert all("d" not in k for k in jwks["keys"]) and len(jwks["keys"]) == 2
    tampered = payload.replace(b'"31.2"', b'"31.3"')
    assert tampered != payload
    with pytest.raises(jwt.exceptions.InvalidSignatureError):  # the first verifier refuses it already
        verify_both(tampered, sig_before, jwks)


async def test_ilcd_and_openepd_documents(gateway, db):
    pf_id = await add_version(db, await add_product(db, "ndpr-oxide", OXIDE))
    token = await gateway.token("a")
    async with gateway.client(headers={"authorization": f"Bearer {token}"}) as http:
        jwks = (await http.get("/.well-known/jwks.json")).json()
        xml = await http.get(f"/3/footprints/{pf_id}", headers={"accept": "application/xml"})
        assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
        verify_both(xml.content, xml.headers["x-epd-signature"], jwks)
        doc = await http.get(f"/3/footprints/{pf_id}", params={"format": "openepd"})
        assert doc.status_code == 200
        verify_both(doc.content, doc.headers["x-epd-signature"], jwks)
    from openepd.model.epd import Epd

    Epd.model_validate(doc.json())
    schemas = shared_spec("ilcd-epd/schemas/EPD_DataSet.xsd").parent
    from lxml import etree

    class LocalOnly(etree.Resolver):  # the XSDs import xml.xsd by its http:// URL; serve it locally
        def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
            if url and url.endswith("xml.xsd"):
                return self.resolve_filename(str(schemas / "xml.xsd"), context)
            return None

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(LocalOnly())
    schema = etree.XMLSchema(etree.parse(str(schemas / "EPD_DataSet.xsd"), parser))
    assert schema.validate(etree.fromstring(xml.content)), schema.error_log


async def test_pagination_walks_1000_records_without_gap_or_repeat_while_publishing(gateway, db, pact):
    """New versions published between the pages of a walk (5 after every page, superseding records
    already listed and not yet listed) neither shift the walk nor hide a record: every original
    record and every new version is listed exactly once. The interleaving is fixed by the test, not
    by how fast the machine is."""
    async with db.transaction():
        rows = []
        for i in range(1000):
            series = await add_product(db, f"p-{i:04d}", OXIDE)
            rows.append((series, await add_version(db, series)))
    original = {str(pf) for _, pf in rows}
    token = await gateway.token("a")
    seen: list[str] = []
    published: set[str] = set()
    # alternate between the front (already listed) and the back (not yet listed) of the walk
    order = [rows[i // 2] if i % 2 == 0 else rows[-1 - i // 2] for i in range(200)]
    async with gateway.client(headers={"authorization": f"Bearer {token}"}) as http:
        url = "/3/footprints?limit=37"
        pages = 0
        while url:
            r = await http.get(url)
            seen += [pf["id"] for pf in check_list(pact, r)]
            assert len(r.json()["data"]) <= 37
            link = r.headers.get("link")
            url = link[1 : link.index(">")] if link else None
            if link:
                assert link.startswith(f"<{gateway.url}/3/footprints?") and link.endswith('>; rel="next"')
            pages += 1
            if pages == 5:  # a pagination link works more than once
                again = await http.get(url)
                assert again.status_code == 200
            if url:  # the walk goes on: the data owner publishes before the next page is fetched
                for series, old in order[len(published) : len(published) + 5]:
                    published.add(str(await publish_new_version(db, series, old, 2)))
    assert published, "the walk was too short to publish during it"
    assert len(seen) == len(set(seen)), "a record was repeated"
    assert set(seen) == original | published, f"{len((original | published) - set(seen))} records were skipped"


async def test_events_request_answered_and_published_recorded(gateway, db, pact):
    pf_id = await add_version(db, await add_product(db, "ndpr-oxide", OXIDE))
    token = await gateway.token("a")
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    request_id, miss_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with gateway.client(
        headers={"authorization": f"Bearer {token}", "content-type": "application/cloudevents+json"}
    ) as http:

        def event(eid, data, kind="RequestCreatedEvent"):
            return json.dumps(
                {
                    "type": f"org.wbcsd.pact.ProductFootprint.{kind}.3",
                    "specversion": "1.0",
                    "id": eid,
                    "source": "https://partner-a.example/pact",
                    "time": now,
                    "data": data,
                }
            )

        r = await http.post(
            "/3/events", content=event(request_id, {"productId": ["urn:pact:epd.example.cn:product-id:ndpr-oxide"]})
        )
        assert r.status_code == 200, r.text
        r = await http.post("/3/events", content=event(miss_id, {"geography": ["DE"]}))
        assert r.status_code == 200
        r = await http.post(
            "/3/events", content=event(str(uuid.uuid4()), {"pfIds": [str(uuid.uuid4())]}, "PublishedEvent")
        )
        assert r.status_code == 200
        for bad in ("{", json.dumps({"type": "x"}), event("e", {"unknown": 1}), json.dumps([1])):
            check_error(pact, await http.post("/3/events", content=bad), 400, "BadRequest")
    for _ in range(100):
        answers = await db.fetch("SELECT request_event_id, body FROM gateway_outgoing_events")
        if len(answers) == 2:
            break
        await asyncio.sleep(0.1)
    by_request = {a["request_event_id"]: json.loads(a["body"]) for a in answers}
    pact("RequestFulfilledEvent", by_request[request_id])
    assert [pf["id"] for pf in by_request[request_id]["data"]["pfs"]] == [str(pf_id)]
    pact("RequestRejectedEvent", by_request[miss_id])
    assert by_request[miss_id]["data"]["error"]["code"] == "NotFound"
    kinds = await db.fetch("SELECT event_type FROM gateway_incoming_events")
    assert sum("PublishedEvent" in k["event_type"] for k in kinds) == 1
