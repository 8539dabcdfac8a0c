"""openEPD output: built with and parsed back by the `openepd` package's models."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from openepd.model.epd import Epd

from epd.v1 import footprint_pb2
from epd_records.openepd import EXT_KEY, LCIA_METHOD, openepd_document
from epd_records.party import MappingError, PartyInfo, ProductInfo
from epd_records.status import Viewer
from epd_records.values import INDICATOR_NAMES, MODULE_NAMES


def test_document_parses_back_with_the_same_results(make_version, party):
    fv = make_version()
    doc = json.loads(json.dumps(openepd_document(fv, party)))
    parsed = Epd.model_validate(doc)
    impacts = parsed.impacts.root[LCIA_METHOD]
    fields = {"GWP-total": "gwp", "GWP-fossil": "gwp_fossil", "GWP-biogenic": "gwp_biogenic", "GWP-luluc": "gwp_luluc"}
    scopes = {"A1": "A1", "A2": "A2", "A3": "A3", "A1-A3": "A1A2A3"}
    for r in fv.results:
        measured = getattr(getattr(impacts, fields[INDICATOR_NAMES[r.indicator]]), scopes[MODULE_NAMES[r.module]])
        assert measured.unit == "kgCO2e"
        assert measured.mean == pytest.approx(float(Decimal(r.value)))
        exact = doc["ext"][EXT_KEY]["results"][f"{MODULE_NAMES[r.module]} {INDICATOR_NAMES[r.indicator]}"]
        assert Decimal(exact) == Decimal(r.value)
    assert parsed.program_operator_doc_id == fv.registration_number
    assert parsed.version == fv.version
    assert parsed.valid_until.year == fv.valid_until.ToDatetime().year
    assert parsed.manufacturer.name == party.organisation.name
    assert parsed.third_party_verifier.name == fv.verifier
    assert doc["ext"][EXT_KEY]["preceding_pf_ids"] == [fv.preceding_pf_ids[0].removeprefix("urn:uuid:")]
    assert parsed.product_classes == {"cpc": "34290", "hs": "2846.90"}


def test_provisional_document_has_no_verifier_and_says_why(make_version, party):
    fv = make_version(status=footprint_pb2.FOOTPRINT_STATUS_PROVISIONAL, reason="drift: +12%")
    doc = openepd_document(fv, party, Viewer(accepts_provisional=True))
    Epd.model_validate(doc)
    assert "third_party_verifier" not in doc
    assert doc["ext"][EXT_KEY]["record_status"] == "provisional"
    assert doc["ext"][EXT_KEY]["status_reason"] == "drift: +12%"


def test_piece_declared_unit(make_version, party):
    pieces = PartyInfo(party.organisation, party.programme, ProductInfo(mass_per_declared_unit_kg=Decimal("0.02")))
    doc = openepd_document(make_version(declared_unit="1 piece"), pieces)
    parsed = Epd.model_validate(doc)
    assert parsed.declared_unit.unit == "item"
    assert parsed.kg_per_declared_unit.qty == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"status": footprint_pb2.FOOTPRINT_STATUS_DRAFT}, "not served"),
        ({"classifications": ["2846.90"]}, "scheme"),
        ({"product_name": "x" * 250}, "longer than"),
        ({"verifier": "bad\x00"}, "control character"),
        ({"pf_id": ""}, "pf id"),
    ],
)
def test_malformed_versions_are_refused(make_version, party, kwargs, match):
    with pytest.raises(MappingError, match=match):
        openepd_document(make_version(**kwargs), party)


def test_inverted_validity_is_refused(make_version, party):
    fv = make_version()
    fv.valid_until.seconds = fv.valid_from.seconds - 86400
    with pytest.raises(MappingError, match="valid_until"):
        openepd_document(fv, party)
