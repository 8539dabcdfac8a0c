"""Stored records: recognition decided from a page row's facts is the decision over the full version,
a stored record is used only when the query found it fresh, the UPSERT's arguments; the SQL
classification candidates cover every stored form that maps to a filter URN."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from epd.v1 import footprint_pb2
from epd_gateway.repository import classification_candidates
from epd_gateway.stored import (
    StoredRecord,
    facts_key,
    recognition_view,
    response_json,
    stored_record,
    upsert_args,
)
from epd_records.pact import classification_urn
from epd_records.recognition import RecognitionAgreement, recognises
from epd_records.status import PactStatus


def page_row(**changes):
    row = {
        "status": "published",
        "was_published": True,
        "superseded": False,
        "classifications": ["hs:2846.90"],
        "pcr_id": "PCR-RE",
        "pcr_version": "1.0",
        "pcr_standards": None,
        "body": None,
        "served_status": None,
        "served_classifications": None,
    }
    return {**row, **changes}


AGREEMENT = RecognitionAgreement.model_validate(
    {"partner_id": "p", "product_classes": ["hs:2846"], "pcrs": [{"pcr_id": "PCR-RE"}], "standards": ["EN 15804+A2"]}
)


def full_view(**changes) -> footprint_pb2.FootprintVersion:
    """What readmodel.footprint_version makes of the same facts (the view the listing used to build)."""
    row = page_row(**changes)
    fv = footprint_pb2.FootprintVersion(
        status=footprint_pb2.FootprintStatus.Value(f"FOOTPRINT_STATUS_{row['status'].upper()}"),
        classifications=row["classifications"],
        pcr_id=row["pcr_id"],
        pcr_version=row["pcr_version"],
        superseding_provisional_pf_id="urn:uuid:00000000-0000-0000-0000-000000000001" if row["superseded"] else "",
        organisation_name="Org",
        product_name="Oxide",
    )
    if row["was_published"]:
        fv.valid_from.FromDatetime(datetime(2026, 1, 1, tzinfo=UTC))
    fv.standards.extend(row["pcr_standards"] or ["EN 15804+A2", "ISO 14025"])
    return fv


def test_recognition_view_decides_as_the_full_version():
    cases = [
        {},
        {"status": "provisional", "was_published": False},
        {"status": "withdrawn", "was_published": False},
        {"status": "withdrawn"},
        {"status": "draft", "was_published": False},
        {"status": "expired"},
        {"superseded": True},
        {"classifications": ["cn:2846"]},
        {"classifications": ["HS: 2846.90", "junk"]},
        {"classifications": []},
        {"pcr_id": "PCR-OTHER"},
        {"pcr_id": " "},
        {"pcr_standards": ["ISO 14067"]},
        {"pcr_standards": ["EN 15804+A2"]},
    ]
    for accepts in (False, True):
        agreement = AGREEMENT.model_copy(update={"accepts_provisional": accepts})
        for case in cases:
            want = recognises(agreement, full_view(**case))
            got = recognises(agreement, recognition_view(page_row(**case)))
            assert (bool(got), got.reason) == (bool(want), want.reason), case
    assert facts_key(page_row()) == facts_key(page_row(body=b"x"))  # the stored record is no fact
    assert facts_key(page_row()) != facts_key(page_row(superseded=True))
    assert recognition_view(page_row(status="bogus")).status == footprint_pb2.FOOTPRINT_STATUS_UNSPECIFIED


def test_stored_record_only_when_fresh():
    assert stored_record(page_row()) is None  # stale or missing: the query leaves the body out
    record = stored_record(page_row(body=b'{"x":"1"}', served_status="Active", served_classifications=["a"]))
    assert record == StoredRecord(b'{"x":"1"}', PactStatus.ACTIVE, frozenset({"a"}))
    assert record.footprint == {"x": "1"}


def test_upsert_args_and_response_json():
    assert response_json({"a": "é", "b": [1, "2"]}) == '{"a":"é","b":[1,"2"]}'.encode()
    record = StoredRecord.of({"productClassifications": ["URN:X:Y"], "é": "ü"}, PactStatus.DEPRECATED)
    assert record.classifications == frozenset({"urn:x:y"}) and record.body == response_json(record.footprint)
    pf = uuid.UUID(int=7)
    args = upsert_args(True, "kid", [(pf, "0" * 32, record)])
    assert args == (True, "kid", [pf], ["0" * 32], ["Deprecated"], ['["urn:x:y"]'], [record.body])


def test_classification_candidates_cover_every_stored_form():
    for stored in (
        "hs:2846.90",
        "HS:2846.90",
        "cpc:46",
        "un-cpc:46",
        "cn:2846",
        "cas:7440-00-8",
        "urn:pact:productclassification:hs:8505.11",
    ):
        urn = classification_urn(stored).lower()
        assert stored.lower() in classification_candidates((urn,)), stored
    assert classification_candidates(("urn:x:y",)) == ("urn:x:y",)
