"""ILCD+EPD v1.2 output: valid against the official XSDs, module-resolved results, references, hostility."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from epd.v1 import footprint_pb2
from epd_records import ilcd
from epd_records.ilcd import ilcd_epd_xml
from epd_records.party import MappingError, PartyInfo, ProgrammeInfo
from epd_records.status import Viewer
from epd_records.values import INDICATOR_NAMES, MODULE_NAMES

NS = {"p": ilcd.NS_PROCESS, "common": ilcd.NS_COMMON, "epd": ilcd.NS_EPD, "epd2": ilcd.NS_EPD2}


class _LocalOnly(etree.Resolver):
    """Serve xml.xsd from the schema folder (the XSDs import it by its http:// URL); no network."""

    def __init__(self, schemas: Path) -> None:
        super().__init__()
        self.schemas = schemas

    def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
        if url and url.endswith("xml.xsd"):
            return self.resolve_filename(str(self.schemas / "xml.xsd"), context)
        return None


@pytest.fixture(scope="module")
def epd_schema() -> etree.XMLSchema:
    from tests.conftest import shared_spec

    schemas = shared_spec("ilcd-epd/schemas/EPD_DataSet.xsd").parent
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalOnly(schemas))
    return etree.XMLSchema(etree.parse(str(schemas / "EPD_DataSet.xsd"), parser))


def _valid(schema: etree.XMLSchema, xml: bytes) -> etree._Element:
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    return doc


def test_validator_accepts_the_official_sample_and_rejects_a_broken_one(epd_schema, specs_dir):
    sample = etree.parse(str(specs_dir / "ilcd-epd" / "samples" / "sample_EPD.xml"))
    assert epd_schema.validate(sample)
    uuid_el = sample.find(".//common:UUID", NS)
    uuid_el.getparent().remove(uuid_el)
    assert not epd_schema.validate(sample)


def test_published_version_is_valid_and_module_resolved(make_version, party, epd_schema):
    fv = make_version()
    doc = _valid(epd_schema, ilcd_epd_xml(fv, party))
    assert doc.findtext(".//common:UUID", namespaces=NS) == fv.pf_id.removeprefix("urn:uuid:")
    expected = {
        (MODULE_NAMES[r.module], ilcd.INDICATORS[INDICATOR_NAMES[r.indicator]].uuid): Decimal(r.value)
        for r in fv.results
    }
    found = {}
    for result in doc.findall(".//p:LCIAResult", NS):
        ref = result.find("p:referenceToLCIAMethodDataSet", NS).get("refObjectId")
        for amount in result.findall(".//epd:amount", NS):
            found[(amount.get(f"{{{ilcd.NS_EPD}}}module"), ref)] = Decimal(amount.text)
    assert found == expected
    assert {m for m, _ in found} == {"A1", "A2", "A3", "A1-A3"}
    assert doc.findtext(".//common:registrationNumber", namespaces=NS) == fv.registration_number
    preceding = doc.find(".//common:referenceToPrecedingDataSetVersion", NS)
    assert preceding.get("refObjectId") == fv.preceding_pf_ids[0].removeprefix("urn:uuid:")
    assert doc.findtext(".//common:dataSetValidUntil", namespaces=NS) == str(fv.valid_until.ToDatetime().year)
    assert doc.findtext(".//epd2:publicationDateOfEPD", namespaces=NS) == fv.valid_from.ToDatetime().date().isoformat()
    assert doc.findtext(".//common:dataSetVersion", namespaces=NS) == "00.02.000"
    compliance = {e.get("refObjectId") for e in doc.findall(".//common:referenceToComplianceSystem", NS)}
    assert compliance == {ilcd.COMPLIANCE["EN 15804+A2"].uuid, ilcd.COMPLIANCE["ISO 14025"].uuid}
    assert doc.find(".//p:review", NS).get("type") == "Independent external review"


def test_reference_uuids_match_the_published_identifier_tables(specs_dir):
    ids = specs_dir / "ilcd-epd" / "identifiers"
    with open(ids / "EN15804+A2_EF3.1_indicators.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["UUID"]]
    for short, ref in ilcd.INDICATORS.items():
        (row,) = [r for r in rows if r["Name (en)"].endswith(f"({short})")]
        assert (row["UUID"], row["Version"]) == (ref.uuid, ref.version)
        assert row["UnitGroup UUID"] == ilcd.KG_CO2E_UNIT_GROUP.uuid
    with open(ids / "Common_references.csv", encoding="utf-8") as f:
        refs = {r["Name"]: r["UUID"] for r in csv.DictReader(f) if r.get("UUID")}
    assert refs["EN 15804+A2 (EF 3.1)"] == ilcd.COMPLIANCE["EN 15804+A2"].uuid
    assert refs["ISO 14025"] == ilcd.COMPLIANCE["ISO 14025"].uuid
    assert refs["ILCD Format"] == ilcd.ILCD_FORMAT.uuid
    assert refs["EPD Data Format Extensions v1.2"] == ilcd.EPD_FORMAT_1_2.uuid


def test_provisional_version_is_marked_and_not_reviewed(make_version, party, epd_schema):
    fv = make_version(status=footprint_pb2.FOOTPRINT_STATUS_PROVISIONAL, reason="drift: +20.3% over 3 evaluations")
    doc = _valid(epd_schema, ilcd_epd_xml(fv, party, Viewer(accepts_provisional=True)))
    comment = doc.findtext(".//common:generalComment", namespaces=NS)
    assert comment.startswith("PROVISIONAL") and "drift: +20.3%" in comment
    assert doc.find(".//p:review", NS).get("type") == "Not reviewed"


def test_markup_in_text_is_escaped_not_interpreted(make_version, party, epd_schema):
    name = 'Nd oxide</baseName><evil xmlns="x"/>&amp;'
    doc = _valid(epd_schema, ilcd_epd_xml(make_version(product_name=name, classifications=[]), party))
    assert doc.findtext(".//p:baseName", namespaces=NS) == name
    assert doc.find(".//{x}evil") is None


def test_partial_results_and_no_optional_fields(make_version, party, epd_schema):
    fv = make_version()
    keep = [r for r in fv.results if r.indicator == footprint_pb2.INDICATOR_GWP_TOTAL]
    fv = make_version(results=keep, preceding_pf_ids=[], registration_number="", pcr_id="", verifier="")
    fv.ClearField("valid_until")
    fv.ClearField("valid_from")
    doc = _valid(epd_schema, ilcd_epd_xml(fv, party))
    assert len(doc.findall(".//p:LCIAResult", NS)) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"status": footprint_pb2.FOOTPRINT_STATUS_DRAFT}, "not served"),
        ({"status": footprint_pb2.FOOTPRINT_STATUS_PROVISIONAL}, "not served"),
        ({"version": 0}, "data set version"),
        ({"version": 10000}, "data set version"),
        ({"product_name": "bad\x01name"}, "control character"),
        ({"product_name": ""}, "product name"),
        ({"pf_id": "urn:uuid:nope"}, "pf id"),
        ({"preceding_pf_ids": ["urn:uuid:6f1c2a3e-8d4b-4c1a-9f00-2b7e5d9a1c01"]}, "precede itself"),
        ({"declared_unit": "1 furlong"}, "not supported"),
        ({"registration_number": "x" * 300}, "longer than"),
    ],
)
def test_malformed_versions_are_refused(make_version, party, kwargs, match):
    with pytest.raises(MappingError, match=match):
        ilcd_epd_xml(make_version(**kwargs), party)


def test_unknown_compliance_standard_is_refused(make_version, party):
    odd = PartyInfo(party.organisation, ProgrammeInfo("P", compliance=("EN 15804+A2", "GB/T 24025")), party.product)
    with pytest.raises(MappingError, match="GB/T 24025"):
        ilcd_epd_xml(make_version(), odd)
