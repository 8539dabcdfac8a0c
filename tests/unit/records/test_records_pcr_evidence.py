"""The PCR in the formats, what a version conforms to, recognition checked against registered PCRs,
Merkle paths of the evidence, and inclusion proofs checked offline."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from lxml import etree
from test_records_ilcd import NS, _valid, epd_schema  # noqa: F401 - the fixture is used by name

from epd.v1 import footprint_pb2
from epd_intensity.core.evidence import merkle_root as intensity_root
from epd_records import readmodel
from epd_records.errors import MappingError, ProofError
from epd_records.ilcd import COMPLIANCE, ilcd_epd_xml
from epd_records.merkle import evidence_leaf, evidence_root, fold_path, merkle_path, merkle_root
from epd_records.openepd import openepd_document
from epd_records.pact import product_footprint
from epd_records.proof import PROOF_FORMAT, verify_proof
from epd_records.recognition import PcrRule, RecognitionAgreement, Standard, recognises, unknown_pcr_rules
from epd_records.record import signed_pact_record
from epd_records.signing import new_key_ring
from epd_records.status import PUBLIC


def _ts(year: int) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime(year, 1, 1, tzinfo=UTC))
    return ts


def with_pcr(fv: footprint_pb2.FootprintVersion, **changes) -> footprint_pb2.FootprintVersion:
    fields = {
        "pcr_id": fv.pcr_id,
        "version": fv.pcr_version,
        "name": "Rare-earth oxides",
        "operator": "Other",
        "operator_name": "National Rare-Earth EPD Programme",
        "valid_from": _ts(2025),
        "valid_until": _ts(2030),
        "declared_unit_amount": "1",
        "declared_unit": "kg",
        "modules": ["A1", "A2", "A3", "A1-A3"],
        "cut_off_rule": "1 % per unit process",
        "allocation_methods": ["mass", "economic"],
        "gwp_set": "AR6",
        "standards": ["EN 15804+A2", "ISO 14025", "ISO 14067"],
    }
    fields.update(changes)
    fv.pcr.CopyFrom(footprint_pb2.ProductCategoryRule(**fields))
    del fv.standards[:]
    fv.standards.extend(fv.pcr.standards)
    fv.gwp_set = "AR5"
    return fv


def test_pact_takes_rule_operator_standards_and_gwp_set_from_the_pcr(make_version, party, pact_schema):
    fv = with_pcr(make_version())
    pf = product_footprint(fv, party)
    pact_schema("ProductFootprint").validate(pf)
    assert pf["pcf"]["productOrSectorSpecificRules"] == [
        {
            "operator": "Other",
            "ruleNames": ["PCR 2019:14 Construction products 1.3.4: Rare-earth oxides"],
            "otherOperatorName": "National Rare-Earth EPD Programme",
        }
    ]
    assert pf["pcf"]["ipccCharacterizationFactors"] == ["AR5"]
    assert pf["pcf"]["verification"]["standardName"] == "EN 15804+A2, ISO 14025, ISO 14067"
    data = pf["extensions"][0]["data"]
    assert data["pcr"]["cutOffRule"] == "1 % per unit process" and data["pcr"]["validUntil"] == "2030-01-01"
    assert data["standards"] == ["EN 15804+A2", "ISO 14025", "ISO 14067"]
    pef = product_footprint(with_pcr(make_version(), operator="EPD International"), party)
    assert "otherOperatorName" not in pef["pcf"]["productOrSectorSpecificRules"][0]
    with pytest.raises(MappingError, match="PCR operator"):
        product_footprint(with_pcr(make_version(), operator="Somebody"), party)


def test_without_a_registered_pcr_the_programme_defaults_apply(make_version, party):
    pf = product_footprint(make_version(), party)
    assert pf["pcf"]["productOrSectorSpecificRules"][0]["ruleNames"] == ["PCR 2019:14 Construction products 1.3.4"]
    assert pf["pcf"]["ipccCharacterizationFactors"] == ["AR6"]


def test_ilcd_declares_the_pcr_and_its_standards(make_version, party, epd_schema):  # noqa: F811
    doc = _valid(epd_schema, ilcd_epd_xml(with_pcr(make_version()), party))
    method = doc.find(".//p:referenceToLCAMethodDetails/common:shortDescription", NS)
    assert method.text == "PCR 2019:14 Construction products 1.3.4: Rare-earth oxides"
    compliance = {e.get("refObjectId") for e in doc.findall(".//common:referenceToComplianceSystem", NS)}
    assert compliance == {COMPLIANCE["EN 15804+A2"].uuid, COMPLIANCE["ISO 14025"].uuid}  # no ILCD id for 14067
    assert etree.tostring(doc)  # still a document


def test_openepd_takes_the_pcr(make_version, party):
    doc = openepd_document(with_pcr(make_version()), party)
    assert doc["pcr"]["name"] == "Rare-earth oxides (PCR 2019:14 Construction products)"
    assert doc["pcr"]["version"] == "1.3.4" and doc["pcr"]["issuer"]["name"] == "National Rare-Earth EPD Programme"
    assert [c["short_name"] for c in doc["compliance"]] == ["EN 15804+A2", "ISO 14025", "ISO 14067"]
    assert doc["ext"]["epd_platform"]["gwp_set"] == "AR5"


def test_the_read_model_fills_pcr_standards_and_evidence_root(make_version):
    row = {"pcr_id": "pcr-a", "pcr_version": "1.0", "pcr_name": None}
    assert readmodel.category_rule(row) is None
    row.update(
        pcr_name="A",
        pcr_operator="Other",
        pcr_operator_name="Op",
        pcr_valid_from=datetime(2025, 1, 1).date(),
        pcr_valid_until=datetime(2030, 1, 1).date(),
        pcr_declared_unit_amount=Decimal(1),
        pcr_declared_unit="kg",
        pcr_modules=["A1-A3"],
        pcr_cut_off_rule="1 %",
        pcr_allocation_methods=[],
        pcr_gwp_set="AR6",
        pcr_standards=["ISO 14067"],
    )
    rule = readmodel.category_rule(row)
    assert rule.valid_from.ToDatetime() == datetime(2025, 1, 1) and rule.declared_unit_amount == "1"


def agreement(**changes) -> RecognitionAgreement:
    fields = {
        "partner_id": "jp-body",
        "product_classes": ("hs:2846",),
        "pcrs": (PcrRule(pcr_id="PCR 2019:14 Construction products"),),
        "standards": frozenset({Standard.ISO_14067}),
    }
    return RecognitionAgreement(**{**fields, **changes})


def test_recognition_uses_the_versions_own_standards(make_version):
    assert not recognises(agreement(), make_version())  # programme defaults: EN 15804+A2, ISO 14025
    assert recognises(agreement(), with_pcr(make_version()))  # the PCR conforms to ISO 14067


def test_agreements_are_checked_against_registered_pcrs():
    registered = {"PCR 2019:14 Construction products": ["1.3.4"], "pcr-b": ["1.0", "2.0"]}
    assert unknown_pcr_rules(agreement(), registered) == []
    rules = (
        PcrRule(pcr_id="pcr-x"),
        PcrRule(pcr_id="pcr-b", min_version="3.0"),
        PcrRule(pcr_id="pcr-b", versions=("2.0",)),
    )
    problems = unknown_pcr_rules(agreement(pcrs=rules), registered)
    assert problems == [
        "PCR pcr-x is not registered",
        "no registered version of PCR pcr-b matches the rule (registered: 1.0, 2.0)",
    ]


# -- Merkle paths ----------------------------------------------------------------------------------


def hashes(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 100])
def test_every_leaf_has_a_path_to_the_root_the_intensity_service_computes(n):
    leaves = hashes(n)
    root = merkle_root(leaves)
    assert root == intensity_root(leaves) == merkle_root(reversed(leaves + leaves[:1]))
    for leaf in leaves:
        assert fold_path(leaf, merkle_path(leaves, leaf)) == root
    other = hashlib.sha256(b"other").hexdigest()
    assert fold_path(other, merkle_path(leaves, leaves[0])) != root
    with pytest.raises(ProofError):
        merkle_path(leaves, other)


def test_bad_paths_are_refused():
    leaf = hashes(1)[0]
    for path in ([{"side": "up", "hash": leaf}], [{"side": "left", "hash": "XY"}], [{}] * 65, "no"):
        with pytest.raises(ProofError):
            fold_path(leaf, path)


def test_evidence_root():
    links = [("w1", 0, hashes(2)[0]), ("w2", 3, hashes(2)[1])]
    assert evidence_root([]) == ""
    assert evidence_root(links) == merkle_root([evidence_leaf(*link) for link in links])
    assert evidence_leaf("w1", 0, links[0][2]) == hashlib.sha256(f"w1\n0\n{links[0][2]}".encode()).hexdigest()


# -- inclusion proofs, offline ---------------------------------------------------------------------


def signed_with_evidence(make_version, party, links):
    """A version carrying `links` as its evidence, its signed record, its evidence leaves and the ring."""
    fv = make_version()
    for w, r, m in links:
        fv.evidence.add(window_id=w, revision=r, merkle_root=m)
    fv.evidence_root = evidence_root(links)
    ring = new_key_ring()
    record = signed_pact_record(fv, party, PUBLIC, ring).footprint
    return fv, record, [evidence_leaf(*link) for link in links], ring


@pytest.fixture
def proof(make_version, party):
    readings = hashes(7)
    hours = [merkle_root(readings), *hashes(30)[7:12]]
    window_root = merkle_root(hours)
    links = [("w-30d", 4, window_root), ("w-other", 0, hashes(40)[39])]
    fv, record, leaves, ring = signed_with_evidence(make_version, party, links)
    doc = {
        "format": PROOF_FORMAT,
        "reading": {"hash": readings[3]},
        "hour": {"window_id": "w-1h", "merkle_root": hours[0], "path": merkle_path(readings, readings[3])},
        "window": {
            "window_id": "w-30d",
            "revision": 4,
            "merkle_root": window_root,
            "path": merkle_path(hours, hours[0]),
        },
        "version": {
            "pf_id": record["id"],
            "evidence_root": fv.evidence_root,
            "path": merkle_path(leaves, evidence_leaf(*links[0])),
        },
        "record": record,
    }
    return doc, ring.public_jwks()


def test_a_proof_holds_offline(proof):
    doc, jwks = proof
    steps = verify_proof(doc, jwks)
    assert len(steps) == 5


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["reading"].update(hash=hashes(8)[7]), "not in the hourly window"),
        (lambda d: d["hour"].update(merkle_root=hashes(50)[49]), "not in the hourly window"),
        (lambda d: d["window"].update(revision=5), "not in the version's evidence"),
        (lambda d: d["version"].update(evidence_root=hashes(51)[50]), "not in the version's evidence"),
        (lambda d: d["version"].update(pf_id="urn:uuid:00000000-0000-0000-0000-000000000000"), "not of version"),
        (lambda d: d["record"].update(comment="edited"), "signature"),
        (lambda d: d.update(format="other/1"), "not an epd-inclusion-proof"),
        (lambda d: d.pop("window"), "no 'window'"),
    ],
)
def test_a_proof_that_does_not_hold_says_which_step(proof, change, match):
    doc, jwks = proof
    broken = copy.deepcopy(doc)
    change(broken)
    with pytest.raises(Exception, match=match) as err:
        verify_proof(broken, jwks)
    assert err.type.__name__ in ("ProofError", "SignatureError")


@pytest.fixture
def hourly_proof(make_version, party):
    """A version whose evidence window is one hour: the window part is the hour itself."""
    readings = hashes(5)
    hour_root = merkle_root(readings)
    links = [("w-1h", 2, hour_root), ("w-other", 0, hashes(40)[39])]
    fv, record, leaves, ring = signed_with_evidence(make_version, party, links)
    doc = {
        "format": PROOF_FORMAT,
        "reading": {"hash": readings[1]},
        "hour": {
            "window_id": "w-1h",
            "revision": 2,
            "merkle_root": hour_root,
            "path": merkle_path(readings, readings[1]),
        },
        "window": {"window_id": "w-1h", "revision": 2, "merkle_root": hour_root, "path": []},
        "version": {"pf_id": record["id"], "evidence_root": fv.evidence_root, "path": merkle_path(leaves, leaves[0])},
        "record": record,
    }
    return doc, ring.public_jwks()


def test_a_proof_whose_window_is_the_hour_itself_holds(hourly_proof):
    doc, jwks = hourly_proof
    steps = verify_proof(doc, jwks)
    assert len(steps) == 5 and "is the version's window w-1h revision 2" in steps[1]


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["window"].update(revision=3),  # another revision of the hour
        lambda d: d["window"].update(window_id="w-other"),  # another window
        lambda d: d["window"].update(path=[{"side": "left", "hash": hashes(2)[1]}]),  # not empty
    ],
)
def test_the_hour_is_the_window_only_when_id_revision_root_and_empty_path_all_agree(hourly_proof, change):
    doc, jwks = hourly_proof
    broken = copy.deepcopy(doc)
    change(broken)
    with pytest.raises(ProofError):
        verify_proof(broken, jwks)
