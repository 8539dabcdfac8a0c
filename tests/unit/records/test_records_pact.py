"""PACT v3 ProductFootprint mapping: schema validity against the spec, status rules, hostile input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from epd.v1 import footprint_pb2, intensity_pb2
from epd_records.pact import product_footprint
from epd_records.party import MappingError, OrganisationInfo, PartyInfo, ProductInfo, ProgrammeInfo
from epd_records.status import PUBLIC, Viewer

S = footprint_pb2


def _stage(fv: footprint_pb2.FootprintVersion, indicator: int) -> Decimal:
    return next(
        Decimal(r.value) for r in fv.results if r.module == S.LIFE_CYCLE_MODULE_A1_A3 and r.indicator == indicator
    )


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for item in value.values() for x in _walk(item)]
    if isinstance(value, list):
        return [x for item in value for x in _walk(item)]
    return [value]


def test_published_version_is_a_valid_product_footprint(make_version, party, pact_schema):
    fv = make_version()
    pf = product_footprint(fv, party)
    pact_schema("ProductFootprint").validate(pf)
    assert pf["id"] == fv.pf_id.removeprefix("urn:uuid:")
    assert pf["status"] == "Active"
    assert pf["precedingPfIds"] == [fv.preceding_pf_ids[0].removeprefix("urn:uuid:")]
    total, biogenic = _stage(fv, S.INDICATOR_GWP_TOTAL), _stage(fv, S.INDICATOR_GWP_BIOGENIC)
    assert Decimal(pf["pcf"]["pcfIncludingBiogenicUptake"]) == total
    assert Decimal(pf["pcf"]["biogenicCO2Uptake"]) == min(biogenic, 0)
    assert Decimal(pf["pcf"]["pcfExcludingBiogenicUptake"]) == total - min(biogenic, 0)
    assert Decimal(pf["pcf"]["fossilGhgEmissions"]) == _stage(fv, S.INDICATOR_GWP_FOSSIL)
    assert pf["pcf"]["geographyCountrySubdivision"] == fv.geography
    assert pf["productClassifications"] == [
        "urn:pact:productclassification:un-cpc:34290",
        "urn:pact:productclassification:hs:2846.90",
    ]
    assert "SMM average" in pf["pcf"]["allocationRulesDescription"]


def test_numbers_are_decimal_strings_never_floats(make_version, party):
    leaves = _walk(product_footprint(make_version(), party))
    assert not [x for x in leaves if isinstance(x, float)]


@pytest.mark.parametrize(
    ("status", "expected", "record"),
    [
        (S.FOOTPRINT_STATUS_PUBLISHED, "Active", "published"),
        (S.FOOTPRINT_STATUS_PROVISIONAL, "Active", "provisional"),
        (S.FOOTPRINT_STATUS_DEPRECATED, "Deprecated", "deprecated"),
        (S.FOOTPRINT_STATUS_EXPIRED, "Deprecated", "expired"),
    ],
)
def test_status_mapping(make_version, party, pact_schema, status, expected, record):
    fv = make_version(status=status, reason="drift: A1-A3 GWP-total +20.3% over 3 evaluations")
    pf = product_footprint(fv, party, Viewer(accepts_provisional=True))
    pact_schema("ProductFootprint").validate(pf)
    assert pf["status"] == expected
    (ext,) = pf["extensions"]
    assert ext["data"]["recordStatus"] == record
    assert ext["data"]["statusReason"].startswith("drift")
    assert ext["dataSchema"].startswith("https://")
    assert ("verification" in pf["pcf"]) is (status != S.FOOTPRINT_STATUS_PROVISIONAL)


@pytest.mark.parametrize(
    "status",
    [S.FOOTPRINT_STATUS_DRAFT, S.FOOTPRINT_STATUS_VERIFIED, S.FOOTPRINT_STATUS_UNSPECIFIED, 99],
)
def test_unpublishable_statuses_are_refused(make_version, party, status):
    with pytest.raises(MappingError, match="not served"):
        product_footprint(make_version(status=status), party, Viewer(accepts_provisional=True))


def test_a_provisional_version_is_served_only_to_viewers_that_accept_it_and_visibly_unverified(
    make_version, party, pact_schema
):
    fv = make_version(status=S.FOOTPRINT_STATUS_PROVISIONAL, reason="drift: +13.6% over 3 evaluations")
    with pytest.raises(MappingError, match="not served"):
        product_footprint(fv, party)  # the public viewer
    pf = product_footprint(fv, party, Viewer(accepts_provisional=True))
    pact_schema("ProductFootprint").validate(pf)
    assert pf["status"] == "Active" and "verification" not in pf["pcf"]
    assert pf["comment"] == "Provisional version, not yet verified: drift: +13.6% over 3 evaluations"


def test_one_active_version_per_viewer_while_a_provisional_successor_waits(make_version, party, pact_schema):
    """The published version names its provisional successor: Deprecated for viewers that see the
    successor, still Active for the others."""
    successor = "urn:uuid:9b2f1c3e-0d4b-4c1a-9f00-2b7e5d9a1c02"
    fv = make_version(superseding_provisional_pf_id=successor)
    public = product_footprint(fv, party)
    assert public["status"] == "Active" and "supersededByProvisional" not in public["extensions"][0]["data"]
    provisional = product_footprint(fv, party, Viewer(accepts_provisional=True))
    pact_schema("ProductFootprint").validate(provisional)
    assert provisional["status"] == "Deprecated"
    assert provisional["extensions"][0]["data"]["supersededByProvisional"] == successor.removeprefix("urn:uuid:")


@pytest.mark.parametrize(("was_published", "public_sees"), [(True, True), (False, False)])
def test_withdrawn_versions_are_deprecated_and_marked(make_version, party, pact_schema, was_published, public_sees):
    fv = make_version(status=S.FOOTPRINT_STATUS_WITHDRAWN, reason="rejected by the verifier")
    if not was_published:
        fv.ClearField("valid_from")
        fv.ClearField("valid_until")
        fv.verifier = ""
    viewers = [Viewer(accepts_provisional=True)] + ([PUBLIC] if public_sees else [])
    for viewer in viewers:
        pf = product_footprint(fv, party, viewer)
        pact_schema("ProductFootprint").validate(pf)
        assert pf["status"] == "Deprecated" and pf["extensions"][0]["data"]["recordStatus"] == "withdrawn"
        assert ("verification" in pf["pcf"]) is was_published
    if not public_sees:
        with pytest.raises(MappingError, match="not served"):
            product_footprint(fv, party)


def test_the_record_carries_its_evidence(make_version, party):
    fv = make_version()
    fv.evidence.add(window_id="baotou-1/roasting|ROLLING_30D|2026-01-31", revision=3, merkle_root="ab" * 32)
    data = product_footprint(fv, party)["extensions"][0]["data"]
    assert data["evidence"] == [
        {"windowId": "baotou-1/roasting|ROLLING_30D|2026-01-31", "revision": 3, "merkleRoot": "ab" * 32}
    ]


@pytest.mark.parametrize(
    ("geo", "key"),
    [
        ("CN", "geographyCountry"),
        ("Eastern Asia", "geographyRegionOrSubregion"),
        ("CN-15", "geographyCountrySubdivision"),
        ("", None),
    ],
)
def test_geography_forms(make_version, party, pact_schema, geo, key):
    pf = product_footprint(make_version(geography=geo), party)
    pact_schema("ProductFootprint").validate(pf)
    present = [k for k in pf["pcf"] if k.startswith("geography")]
    assert present == ([key] if key else [])


@pytest.mark.parametrize("geo", ["cn", "Atlantis", "CN-\x00", "C" * 100, "CN-ABCD"])
def test_bad_geography_is_refused(make_version, party, geo):
    with pytest.raises(MappingError, match="geography"):
        product_footprint(make_version(geography=geo), party)


def test_product_stage_is_summed_when_a1_a3_is_not_declared(make_version, party, pact_schema):
    fv = make_version()
    kept = [r for r in fv.results if r.module != S.LIFE_CYCLE_MODULE_A1_A3]
    expected = sum((Decimal(r.value) for r in kept if r.indicator == S.INDICATOR_GWP_TOTAL), Decimal(0))
    fv = make_version(results=kept)
    pf = product_footprint(fv, party)
    pact_schema("ProductFootprint").validate(pf)
    assert Decimal(pf["pcf"]["pcfIncludingBiogenicUptake"]) == expected


def _replace_value(fv, module, indicator, value):
    for r in fv.results:
        if r.module == module and r.indicator == indicator:
            r.value = value
    return fv


@pytest.mark.parametrize(
    "value",
    ["abc", "NaN", "Infinity", "-inf", "", " ", "1e400", "1" * 70, "1e15", "0." + "0" * 40 + "1", "1,5", "0x10"],
)
def test_malformed_or_out_of_range_decimals_are_refused(make_version, party, value):
    fv = _replace_value(make_version(), S.LIFE_CYCLE_MODULE_A1_A3, S.INDICATOR_GWP_TOTAL, value)
    with pytest.raises(MappingError, match="GWP-total"):
        product_footprint(fv, party)


def test_exponent_notation_is_written_fixed_point(make_version, party, pact_schema):
    fv = _replace_value(make_version(), S.LIFE_CYCLE_MODULE_A1_A3, S.INDICATOR_GWP_LULUC, "1.5E-7")
    pf = product_footprint(fv, party)
    pact_schema("ProductFootprint").validate(pf)
    assert pf["pcf"]["landUseChangeGhgEmissions"] == "0.00000015"


def test_negative_fossil_is_refused(make_version, party):
    fv = _replace_value(make_version(), S.LIFE_CYCLE_MODULE_A1_A3, S.INDICATOR_GWP_FOSSIL, "-1")
    with pytest.raises(MappingError, match="GWP-fossil"):
        product_footprint(fv, party)


def test_missing_fossil_is_refused(make_version, party):
    fv = make_version()
    fv = make_version(results=[r for r in fv.results if r.indicator != S.INDICATOR_GWP_FOSSIL])
    with pytest.raises(MappingError, match=r"GWP-fossil .* required"):
        product_footprint(fv, party)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda r: setattr(r, "unit", "kg CH4"), "unit must be kg CO2e"),
        (lambda r: setattr(r, "module", S.LIFE_CYCLE_MODULE_UNSPECIFIED), "known values"),
        (lambda r: setattr(r, "indicator", 42), "known values"),
    ],
)
def test_bad_results_are_refused(make_version, party, mutate, match):
    fv = make_version()
    mutate(fv.results[0])
    with pytest.raises(MappingError, match=match):
        product_footprint(fv, party)


def test_duplicate_and_empty_results_are_refused(make_version, party):
    fv = make_version()
    fv.results.append(fv.results[0])
    with pytest.raises(MappingError, match="duplicate"):
        product_footprint(fv, party)
    with pytest.raises(MappingError, match="no results"):
        product_footprint(make_version(results=[]), party)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pf_id": "not-a-uuid"}, "pf id"),
        ({"pf_id": "urn:uuid:{6f1c2a3e-8d4b-4c1a-9f00-2b7e5d9a1c01}"}, "pf id"),
        ({"preceding_pf_ids": ["urn:uuid:6f1c2a3e-8d4b-4c1a-9f00-2b7e5d9a1c01"]}, "precede itself"),
        ({"preceding_pf_ids": ["urn:uuid:0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"] * 2}, "unique"),
        ({"product_name": ""}, "product name"),
        ({"product_name": "Nd\x00oxide"}, "control character"),
        ({"product_id": ""}, "product id"),
        ({"classifications": ["foo:bar"]}, "classification"),
        ({"classifications": ["hs:28 46"]}, "classification"),
        ({"declared_unit": "2 furlong"}, "not supported"),
        ({"declared_unit": "-1 kg"}, "> 0"),
        ({"declared_unit": "1 piece"}, "not a mass"),
        ({"declared_unit": "1 kg of oxide"}, "amount"),
        ({"allocation_price_basis": ""}, "price basis"),
    ],
)
def test_malformed_fields_are_refused(make_version, party, kwargs, match):
    with pytest.raises(MappingError, match=match):
        product_footprint(make_version(**kwargs), party)


def test_missing_or_inverted_times_are_refused(make_version, party):
    fv = make_version()
    fv.ClearField("created_at")
    with pytest.raises(MappingError, match="created_at is missing"):
        product_footprint(fv, party)
    fv = make_version()
    fv.reference_period_end.CopyFrom(fv.reference_period_start)
    with pytest.raises(MappingError, match="reference period end"):
        product_footprint(fv, party)
    fv = make_version()
    fv.valid_until.seconds = fv.valid_from.seconds - 1
    with pytest.raises(MappingError, match="valid_until"):
        product_footprint(fv, party)
    fv = make_version()
    fv.created_at.seconds = 2**62
    with pytest.raises(MappingError, match="out of range"):
        product_footprint(fv, party)


def test_units_tonnes_and_pieces(make_version, party, pact_schema):
    pf = product_footprint(make_version(declared_unit="1 t"), party)
    assert (pf["pcf"]["declaredUnitAmount"], pf["pcf"]["productMassPerDeclaredUnit"]) == ("1000", "1000")
    pieces = PartyInfo(party.organisation, party.programme, ProductInfo(mass_per_declared_unit_kg=Decimal("0.25")))
    pf = product_footprint(make_version(declared_unit="1 piece"), pieces)
    pact_schema("ProductFootprint").validate(pf)
    assert pf["pcf"]["declaredUnitOfMeasurement"] == "piece"


def test_odd_product_ids_become_valid_urns(make_version, party, pact_schema):
    pf = product_footprint(make_version(product_id="magnet/N52 grade#1"), party)
    pact_schema("ProductFootprint").validate(pf)
    assert pf["productIds"] == ["urn:pact:epd.example.cn:product-id:magnet%2FN52%20grade%231"]


def test_other_allocation_bases(make_version, party):
    for basis, word in [(intensity_pb2.ALLOCATION_BASIS_MASS, "mass"), (intensity_pb2.ALLOCATION_BASIS_NONE, "No")]:
        pf = product_footprint(make_version(allocation_basis=basis, allocation_price_basis=""), party)
        assert word in pf["pcf"]["allocationRulesDescription"]


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: OrganisationInfo(" ", ("urn:x:1",)), "name"),
        (lambda: OrganisationInfo("A", ()), "at least one"),
        (lambda: OrganisationInfo("A", ("company-1",)), "URN"),
        (lambda: OrganisationInfo("A", ("urn:x:1", "URN:X:1")), "unique"),
        (lambda: ProgrammeInfo("P", pcr_operator="Bogus"), "pcr_operator"),
        (lambda: ProgrammeInfo("P", extension_base_url="http://plain.example"), "https"),
        (lambda: ProductInfo(ipcc_characterization_factors=("AR-six",)), "AR6"),
        (lambda: ProductInfo(exempted_emissions_percent=Decimal(101)), "between 0 and 100"),
    ],
)
def test_party_info_is_checked(build, match):
    with pytest.raises(MappingError, match=match):
        build()


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("status",), "Superseded"),
        (("id",), "urn:uuid:x"),
        (("pcf", "fossilGhgEmissions"), 1.5),
        (("companyIds",), ["acme"]),
    ],
)
def test_schema_check_is_not_vacuous(make_version, party, pact_schema, path, bad):
    import jsonschema

    pf = product_footprint(make_version(), party)
    target = pf
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        pact_schema("ProductFootprint").validate(pf)
