"""The read model: one row (as the shared query returns it) becomes one FootprintVersion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from epd.v1 import footprint_pb2
from epd_records import readmodel
from epd_records.errors import MappingError
from epd_records.party import ProgrammeInfo

PF = uuid.UUID("6f1c2a3e-8d4b-4c1a-9f00-2b7e5d9a1c01")
NEXT = uuid.UUID("9b2f1c3e-0d4b-4c1a-9f00-2b7e5d9a1c02")


def row(**overrides):
    base = {
        "pf_id": PF,
        "series_id": uuid.UUID(int=7),
        "version": 1,
        "status": "published",
        "preceding_pf_id": None,
        "declared_unit": "kg",
        "reference_period_start": datetime(2025, 1, 1, tzinfo=UTC),
        "reference_period_end": datetime(2026, 1, 1, tzinfo=UTC),
        "factor_set_version": "cn-2023.1",
        "allocation_basis": "economic",
        "allocation_price_basis": "SMM 2025",
        "verifier": "CQC",
        "valid_from": datetime(2026, 2, 1, tzinfo=UTC),
        "valid_until": datetime(2031, 2, 1, tzinfo=UTC),
        "reason": "imported",
        "created_at": datetime(2026, 1, 20, tzinfo=UTC),
        "product_id": "ndpr-oxide",
        "plant_id": "baotou-1",
        "pcr_id": "PCR-RE",
        "pcr_version": "1.2",
        "programme_operator": "National Rare-Earth EPD Programme",
        "registration_number": "CN-1",
        "product_name": "NdPr oxide",
        "classifications": ["hs:2846.90"],
        "organisation_id": "org-a",
        "organisation_name": "Baotou Refining",
        "company_ids": ["urn:pact:company:cn-uscc:91150200MA0N0XYZ1K"],
        "geography": "CN-NM",
        "superseding_provisional_pf_id": None,
    }
    return {**base, **overrides}


def test_a_row_with_results_and_evidence():
    results = [
        {"pf_id": PF, "module": "A1-A3", "indicator": "GWP-total", "value": Decimal("12.3450000"), "unit": "kg CO2e"},
        {"pf_id": PF, "module": "A1", "indicator": "GWP-fossil", "value": Decimal("-0E-7"), "unit": "kg CO2e"},
    ]
    evidence = [{"pf_id": PF, "window_id": "w1", "revision": 2, "merkle_root": "ab" * 32}]
    fv = readmodel.footprint_version(row(superseding_provisional_pf_id=NEXT), results, evidence)
    assert fv.pf_id == f"urn:uuid:{PF}" and fv.status == footprint_pb2.FOOTPRINT_STATUS_PUBLISHED
    assert [r.value for r in fv.results] == ["12.3450000", "0.0000000"]  # fixed point, never "-0"
    assert fv.superseding_provisional_pf_id == f"urn:uuid:{NEXT}"
    assert (fv.geography, fv.organisation_name, list(fv.company_ids)) == (
        "CN-NM",
        "Baotou Refining",
        ["urn:pact:company:cn-uscc:91150200MA0N0XYZ1K"],
    )
    assert [(e.window_id, e.revision) for e in fv.evidence] == [("w1", 2)]
    assert fv.valid_from.ToDatetime(tzinfo=UTC) == datetime(2026, 2, 1, tzinfo=UTC)


def test_a_row_without_optional_values():
    fv = readmodel.footprint_version(
        row(valid_from=None, valid_until=None, verifier=None, allocation_price_basis=None, classifications=None),
        [],
        [],
    )
    assert not fv.HasField("valid_from") and fv.verifier == "" and list(fv.classifications) == []


def test_the_party_names_the_owner_or_says_why_it_cannot():
    programme = ProgrammeInfo(operator_name="Programme")
    fv = readmodel.footprint_version(row(), [], [])
    assert readmodel.party(fv, programme).organisation.name == "Baotou Refining"
    with pytest.raises(MappingError, match="company id"):
        readmodel.party(readmodel.footprint_version(row(company_ids=[]), [], []), programme)


def test_rows_group_by_version_in_query_order():
    rows = [{"pf_id": PF, "n": 1}, {"pf_id": NEXT, "n": 2}, {"pf_id": PF, "n": 3}]
    assert {k: [r["n"] for r in v] for k, v in readmodel.by_version(rows).items()} == {PF: [1, 3], NEXT: [2]}
