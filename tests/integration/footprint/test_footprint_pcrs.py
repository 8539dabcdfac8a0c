"""Product category rules through the admin API (fresh database): add and version PCRs, EPD imports
and product systems checked against them with the reason, and the PCR in the records."""

from __future__ import annotations

import copy

import httpx
import pytest
from footprint_chain import PLANT_OF, binding, document, register

from epd_common.db import create_pool
from epd_footprint.api import create_app
from epd_footprint.versions import footprint_version
from epd_records import readmodel
from epd_records.pact import product_footprint
from epd_records.party import ProgrammeInfo
from tests.support.pcrs import pcr

TOKEN = "test-operator-token-123456"
COMPANY = "urn:pact:company:cn-uscc:91150200MA0N0XYZ1K"


@pytest.fixture(scope="module")
async def api(module_db):
    """The chain registered once; each test uses its own PCR ids and products."""
    pool = await create_pool(module_db, max_size=4)
    pf_ids = await register(pool, company_ids=(COMPANY,), classifications=("hs:2846.90",))
    transport = httpx.ASGITransport(app=create_app(pool, TOKEN))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://admin", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        yield client, pool, pf_ids
    await pool.close()


def import_body(product: str, pcr_id: str, **changes) -> dict:
    return {
        "product_id": product,
        "plant_id": PLANT_OF.get(product, "ningbo-1"),
        "pcr_id": pcr_id,
        "pcr_version": "2.0",
        "programme_operator": "CN-EPD",
        "registration_number": f"EPD-{product}-{pcr_id}",
        "reference_period_start": "2025-01-01T00:00:00Z",
        "reference_period_end": "2026-01-01T00:00:00Z",
        "factor_set_version": "set-2025.1",
        "verifier": "v",
        "valid_from": "2026-02-01T00:00:00Z",
        "results": {"A1-A3": {"GWP-total": "12.5"}},
        **changes,
    }


def expect(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    if code is not None:
        assert body["code"] == code, body
    return body


async def test_add_and_version_pcrs(api):
    client, _, _ = api
    first = expect(await client.post("/pcrs", json=pcr("pcr-magnets", "1.0", allocation_methods=["mass"])), 201)
    assert first["declared_unit"] == {"amount": "1", "unit": "kg"} and first["gwp_set"] == "AR6"
    expect(await client.post("/pcrs", json=pcr("pcr-magnets", "1.1")), 409, "pcr_exists")
    body = {k: v for k, v in pcr("pcr-magnets", "2.0").items() if k != "pcr_id"}
    expect(await client.post("/pcrs/pcr-magnets/versions", json=body), 201)
    expect(await client.post("/pcrs/pcr-magnets/versions", json={**body, "version": "1.5"}), 409, "version_not_newer")
    expect(await client.post("/pcrs/pcr-nothing/versions", json=body), 404, "unknown_pcr")
    listed = expect(await client.get("/pcrs/pcr-magnets"), 200)
    assert [p["version"] for p in listed] == ["1.0", "2.0"]
    assert {"pcr-magnets", "pcr-rare-earths"} <= {p["pcr_id"] for p in expect(await client.get("/pcrs"), 200)}
    expect(await client.get("/pcrs/pcr-nothing"), 404, "unknown_pcr")
    for bad in (
        {"version": "v1"},
        {"valid_until": "2019-01-01"},
        {"declared_unit": {"amount": 1, "unit": "ton"}},
        {"gwp_set": "AR7"},
        {"standards": []},
        {"modules": ["A1", "A1"]},
        {"allocation_methods": ["physical"]},
        {"name": "x\x00"},
    ):
        expect(await client.post("/pcrs", json={**pcr("pcr-bad", "1.0"), **bad}), 422)


@pytest.mark.parametrize(
    ("pcr_changes", "import_changes", "status", "code"),
    [
        ({}, {"pcr_id": "pcr-unknown"}, 404, "unknown_pcr"),
        ({}, {"declared_unit": "t"}, 422, "pcr_declared_unit"),
        ({"declared_unit": {"amount": 1000, "unit": "g"}}, {}, 201, None),  # 1 kg is 1000 g
        ({}, {"gwp_set": "AR5"}, 422, "pcr_gwp_set"),
        ({"allocation_methods": ["economic"]}, {"allocation_basis": "mass"}, 422, "pcr_allocation"),
        ({"valid_from": "2027-01-01", "valid_until": "2030-01-01"}, {}, 422, "pcr_not_valid"),
        # The product system makes the oxide with economic allocation: a mass-only PCR refuses it.
        ({"allocation_methods": ["mass"]}, {"product_id": "ndpr-oxide"}, 422, "product_system_pcr_allocation"),
    ],
)
async def test_imports_are_checked_against_their_pcr(api, pcr_changes, import_changes, status, code):
    client, _, _ = api
    pcr_id = f"pcr-case-{len(str(pcr_changes))}-{len(str(import_changes))}-{code}"
    expect(await client.post("/pcrs", json=pcr(pcr_id, "2.0", **pcr_changes)), 201)
    product = import_changes.pop("product_id", f"magnet-{pcr_id}")
    if product != "ndpr-oxide":
        expect(await client.post("/products", json={"product_id": product, "name": "a magnet"}), 201)
    import_changes.setdefault("pcr_id", pcr_id)
    resp = await client.post("/epds/import", json=import_body(product, **import_changes))
    expect(resp, status, code)
    if code and code.startswith("product_system_"):
        assert "process baotou-2/solvent-extraction uses economic allocation" in resp.json()["message"]


async def test_product_systems_that_break_a_series_pcr_are_refused(api):
    client, pool, _ = api
    doc = copy.deepcopy(document())
    for p in doc["products"]:
        if p["id"] == "ndpr-metal":
            p["declared_unit"] = {"amount": 1, "unit": "t"}
    resp = await client.post(
        "/product-systems", json={"system_id": "baotou-ndfeb", "document": doc, "binding": binding()}
    )
    body = expect(resp, 422, "product_system_pcr_declared_unit")
    assert "product ndpr-metal" in body["message"] and "PCR pcr-rare-earths 1.0 requires 1 kg" in body["message"]
    doc["gwp"] = "AR5"
    for p in doc["products"]:
        p.pop("declared_unit", None)
    resp = await client.post(
        "/product-systems", json={"system_id": "baotou-ndfeb", "document": doc, "binding": binding()}
    )
    expect(resp, 422, "product_system_pcr_gwp_set")
    assert await pool.fetchval("SELECT max(version) FROM footprint_product_systems") == 1


async def test_the_records_take_their_pcr_fields(api):
    _, pool, pf_ids = api
    async with pool.acquire() as conn:
        fv = await footprint_version(conn, pf_ids["ndpr-metal"])
    assert fv.pcr.pcr_id == "pcr-rare-earths" and fv.pcr.version == "1.0" and fv.pcr.gwp_set == "AR6"
    assert list(fv.standards) == ["EN 15804+A2", "ISO 14025"] and fv.gwp_set == "AR6"
    assert fv.pcr.declared_unit_amount == "1" and list(fv.pcr.modules) == ["A1", "A2", "A3", "A1-A3"]
    record = product_footprint(fv, readmodel.party(fv, ProgrammeInfo(operator_name="CN-EPD")))
    rule = record["pcf"]["productOrSectorSpecificRules"][0]
    assert rule == {
        "operator": "Other",
        "ruleNames": ["pcr-rare-earths 1.0: Rare-earth concentrates, oxides, metals and magnets"],
        "otherOperatorName": "National Rare-Earth EPD Programme",
    }
    assert record["pcf"]["ipccCharacterizationFactors"] == ["AR6"]
    data = record["extensions"][0]["data"]
    assert data["pcr"]["cutOffRule"].startswith("1 %") and data["standards"] == ["EN 15804+A2", "ISO 14025"]
