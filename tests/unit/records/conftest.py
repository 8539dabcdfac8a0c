"""Shared builders for the record model tests (no I/O besides reading ../shared/specs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from epd.v1 import footprint_pb2, intensity_pb2
from epd_records.party import OrganisationInfo, PartyInfo, ProductInfo, ProgrammeInfo
from tests.conftest import shared_spec

PF_ID = "urn:uuid:6f1c2a3e-8d4b-4c1a-9f00-2b7e5d9a1c01"
PRECEDING = "urn:uuid:0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"

# (module, indicator, value): A1 + A2 + A3 == A1-A3 for every indicator, by construction below.
_PARTS = {
    footprint_pb2.INDICATOR_GWP_FOSSIL: ("21.40", "0.35", "8.15"),
    footprint_pb2.INDICATOR_GWP_BIOGENIC: ("-0.02", "0", "-0.01"),
    footprint_pb2.INDICATOR_GWP_LULUC: ("0.010", "0.001", "0.004"),
}


def _ts(dt: datetime) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


def build_version(**overrides: Any) -> footprint_pb2.FootprintVersion:
    """A realistic published NdPr-oxide EPD version; keyword overrides replace fields."""
    fv = footprint_pb2.FootprintVersion(
        pf_id=PF_ID,
        series_id="baotou-1/ndpr-oxide",
        product_id="ndpr-oxide-99.5",
        plant_id="baotou-1",
        version=2,
        status=footprint_pb2.FOOTPRINT_STATUS_PUBLISHED,
        preceding_pf_ids=[PRECEDING],
        declared_unit="1 kg",
        factor_set_version="cn-2023.1",
        allocation_basis=intensity_pb2.ALLOCATION_BASIS_ECONOMIC,
        allocation_price_basis="SMM average CNY/kg 2025-Q3",
        pcr_id="PCR 2019:14 Construction products",
        pcr_version="1.3.4",
        verifier="China Quality Certification Centre",
        programme_operator="National Rare-Earth EPD Programme",
        reason="annual re-verification",
        registration_number="CN-REEPD-2025-0042",
        product_name="Praseodymium-neodymium oxide 99.5%",
        classifications=["cpc:34290", "hs:2846.90"],
        organisation_id="org-baotou",
        geography="CN-NM",
    )
    fv.reference_period_start.CopyFrom(_ts(datetime(2025, 1, 1, tzinfo=UTC)))
    fv.reference_period_end.CopyFrom(_ts(datetime(2026, 1, 1, tzinfo=UTC)))
    fv.valid_from.CopyFrom(_ts(datetime(2026, 2, 1, tzinfo=UTC)))
    fv.valid_until.CopyFrom(_ts(datetime(2031, 2, 1, tzinfo=UTC)))
    fv.created_at.CopyFrom(_ts(datetime(2026, 1, 20, 8, 30, tzinfo=UTC)))
    from decimal import Decimal

    totals = [Decimal(0)] * 3
    for indicator, parts in _PARTS.items():
        for module, value in zip(
            (
                footprint_pb2.LIFE_CYCLE_MODULE_A1,
                footprint_pb2.LIFE_CYCLE_MODULE_A2,
                footprint_pb2.LIFE_CYCLE_MODULE_A3,
            ),
            parts,
            strict=True,
        ):
            fv.results.add(module=module, indicator=indicator, value=value, unit="kg CO2e")
        for i, value in enumerate(parts):
            totals[i] += Decimal(value)
    for module, total in zip(
        (footprint_pb2.LIFE_CYCLE_MODULE_A1, footprint_pb2.LIFE_CYCLE_MODULE_A2, footprint_pb2.LIFE_CYCLE_MODULE_A3),
        totals,
        strict=True,
    ):
        fv.results.add(module=module, indicator=footprint_pb2.INDICATOR_GWP_TOTAL, value=str(total), unit="kg CO2e")
    for indicator in (*_PARTS, footprint_pb2.INDICATOR_GWP_TOTAL):
        stage = sum((Decimal(r.value) for r in fv.results if r.indicator == indicator), Decimal(0))
        fv.results.add(
            module=footprint_pb2.LIFE_CYCLE_MODULE_A1_A3, indicator=indicator, value=str(stage), unit="kg CO2e"
        )
    for key, value in overrides.items():
        if isinstance(value, list):
            del getattr(fv, key)[:]
            getattr(fv, key).extend(value)
        else:
            setattr(fv, key, value)
    return fv


@pytest.fixture
def make_version() -> Callable[..., footprint_pb2.FootprintVersion]:
    return build_version


@pytest.fixture
def party() -> PartyInfo:
    return PartyInfo(
        organisation=OrganisationInfo(
            name="Baotou Rare Earth Refining Co., Ltd.",
            company_ids=("urn:pact:company:cn-uscc:91150200MA0N0XYZ1K",),
            web_domain="baotou-re.example.cn",
        ),
        programme=ProgrammeInfo(operator_name="National Rare-Earth EPD Programme"),
        product=ProductInfo(description="NdPr oxide from solvent extraction, 99.5% TREO purity"),
    )


@pytest.fixture
def specs_dir() -> Path:
    return shared_spec("")


@pytest.fixture(scope="session")
def pact_schema() -> Callable[[str], Any]:
    """Return a factory of jsonschema 2020-12 validators for named schemas of the PACT OpenAPI file."""
    spec_file = shared_spec("pact/openapi-v3.0.3.yaml")
    import jsonschema
    import yaml
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    base = "urn:pact:openapi-v3.0.3"
    registry = Registry().with_resource(base, Resource.from_contents(document, default_specification=DRAFT202012))

    def validator(name: str) -> jsonschema.Draft202012Validator:
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": f"{base}#/components/schemas/{name}",
        }
        return jsonschema.Draft202012Validator(
            schema, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )

    return validator
