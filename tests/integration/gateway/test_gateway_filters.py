"""Every ListFootprints filter, OR within a filter and AND across filters; responses validate against
the PACT v3.0.3 schemas; filter values that match nothing give 200 with an empty list, malformed
requests 400 {code, message}. The spec's words are quoted where a test rests on them.

Every test here only reads: they share one seeded database and gateway (read_only_gateway)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from conftest import check_error, check_list
from gateway_seed import MAGNET, ORGS, OXIDE, T0, add_product, add_version

PREFIX = "urn:pact:epd.example.cn:product-id:"


@pytest.fixture(scope="module")
async def records(read_only_gateway) -> dict[str, str]:
    db = await asyncpg.connect(read_only_gateway.dsn)
    try:
        s1 = await add_product(db, "ndpr-oxide", OXIDE)
        old = await add_version(db, s1, 1, status="deprecated")
        new = await add_version(db, s1, 2, preceding=old)
        s3 = await add_product(db, "dy-oxide", OXIDE, org="org-b")
        later = await add_version(db, s3, valid_from=T0 + timedelta(days=365), valid_until=T0 + timedelta(days=6 * 365))
        s4 = await add_product(db, "ndfeb-magnet", MAGNET, org="org-b")
        magnet = await add_version(db, s4)
        s5 = await add_product(db, "ce-oxide", OXIDE)
        default_validity = await add_version(db, s5, valid_from=None, valid_until=None)  # T0 .. T0 + 3 years
    finally:
        await db.close()
    ids = {"old": old, "new": new, "later": later, "magnet": magnet, "default": default_validity}
    return {k: str(v) for k, v in ids.items()}


@pytest.fixture
async def seeded(read_only_gateway, records):
    token = await read_only_gateway.token("all")
    async with read_only_gateway.client(headers={"authorization": f"Bearer {token}"}) as http:
        yield http, records


async def ids_for(http, pact, params) -> set[str]:
    return {pf["id"] for pf in check_list(pact, await http.get("/3/footprints", params=params))}


async def test_no_filter_lists_everything_including_deprecated(seeded, pact):
    http, ids = seeded
    assert await ids_for(http, pact, {}) == set(ids.values())


async def test_product_id_or_and_case_insensitive(seeded, pact):
    http, ids = seeded
    params = [("productId", PREFIX + "NDPR-OXIDE"), ("productId", PREFIX + "ndfeb-magnet")]
    assert await ids_for(http, pact, params) == {ids["old"], ids["new"], ids["magnet"]}


async def test_company_id(seeded, pact):
    http, ids = seeded
    params = {"companyId": ORGS["org-b"][1][0].upper()}
    assert await ids_for(http, pact, params) == {ids["later"], ids["magnet"]}


async def test_geography_subdivision_country_and_or(seeded, pact):
    http, ids = seeded
    assert await ids_for(http, pact, {"geography": "cn-jx"}) == {ids["later"], ids["magnet"]}
    assert await ids_for(http, pact, {"geography": "CN"}) == set(ids.values())
    assert await ids_for(http, pact, [("geography", "CN-JX"), ("geography", "CN-NM")]) == set(ids.values())
    assert await ids_for(http, pact, {"geography": "DE"}) == set()


async def test_classification(seeded, pact):
    http, ids = seeded
    params = {"classification": "urn:pact:productclassification:hs:8505.11"}
    assert await ids_for(http, pact, params) == {ids["magnet"]}


async def test_valid_on_after_before(seeded, pact):
    http, ids = seeded
    assert ids["later"] not in await ids_for(http, pact, {"validOn": "2026-06-01T00:00:00Z"})
    assert ids["default"] in await ids_for(http, pact, {"validOn": "2026-06-01T00:00:00Z"})
    assert await ids_for(http, pact, {"validAfter": "2026-06-01T00:00:00Z"}) == {ids["later"]}
    assert await ids_for(http, pact, {"validBefore": "2030-01-01T00:00:00Z"}) == {ids["default"]}


async def test_status(seeded, pact):
    http, ids = seeded
    assert await ids_for(http, pact, {"status": "Deprecated"}) == {ids["old"]}
    assert ids["old"] not in await ids_for(http, pact, {"status": "Active"})


async def test_filters_are_anded(seeded, pact):
    http, ids = seeded
    params = {"companyId": ORGS["org-b"][1][0], "classification": "urn:pact:productclassification:hs:2846.90"}
    assert await ids_for(http, pact, params) == {ids["later"]}


async def test_status_matches_case_insensitively(seeded, pact):
    """Spec, parameter status: 'If present, MUST be "Active" or "Deprecated". ... The match must be-case
    insensitive.'"""
    http, ids = seeded
    active = await ids_for(http, pact, {"status": "Active"})
    assert active == set(ids.values()) - {ids["old"]}
    for spelling in ("active", "ACTIVE", "aCtIvE"):
        assert await ids_for(http, pact, {"status": spelling}) == active
    assert await ids_for(http, pact, {"status": "deprecated"}) == {ids["old"]}


async def test_parameter_names_match_case_insensitively(seeded, pact):
    """The spec's filtering example itself writes `productid` and `validon`."""
    http, ids = seeded
    params = [("productId", PREFIX + "ndpr-oxide"), ("productid", PREFIX + "ndfeb-magnet")]
    assert await ids_for(http, pact, params) == {ids["old"], ids["new"], ids["magnet"]}


@pytest.mark.parametrize(
    "params",
    [
        {"status": "Bogus"},
        {"productId": "not-a-urn"},
        {"companyId": "abc"},
        {"companyId": "urn:x:\x00"},
        {"classification": "hs:2846.90"},  # a short code, not the URN the records carry
        {"geography": "Atlantis"},
    ],
)
async def test_filter_values_that_match_nothing_answer_an_empty_list(seeded, pact, params):
    """Spec, ListFootprints 200: 'The list MAY also be empty. If the list is empty, the host system MUST
    return an empty JSON array.' A value no footprint can have is a filter that matches nothing."""
    http, _ = seeded
    r = await http.get("/3/footprints", params=params)
    assert check_list(pact, r) == [] and "link" not in r.headers


async def test_repeated_values_are_ored_even_when_one_matches_nothing(seeded, pact):
    """Spec, Filtering: 'the filter matches if the footprint matches at least one of the values for that
    criterion (logical OR within a criterion).'"""
    http, ids = seeded
    known = ORGS["org-b"][1][0]
    assert await ids_for(http, pact, [("companyId", known), ("companyId", "abc")]) == {ids["later"], ids["magnet"]}
    assert await ids_for(http, pact, [("status", "Deprecated"), ("status", "Bogus")]) == {ids["old"]}


@pytest.mark.parametrize(
    "params",
    [
        {"validOn": "yesterday"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"x-epd-cursor": "forged"},
        {"companyId": "urn:x:" + "a" * 600},
    ],
)
async def test_malformed_requests_are_400(seeded, pact, params):
    http, _ = seeded
    check_error(pact, await http.get("/3/footprints", params=params), 400, "BadRequest")
