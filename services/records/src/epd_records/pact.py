"""FootprintVersion -> PACT Technical Specifications v3.0.3 ProductFootprint (a JSON-ready dict).

Status: what a viewer sees follows `epd_records.status` (one Active version per series and viewer;
a version the viewer may not see is a MappingError). A PACT Data Model Extension (the spec's
`extensions`, each with a `dataSchema`) on every record carries the EN 15804 record status
(`data.recordStatus`, e.g. "provisional"), why the version exists (`data.statusReason`), the
module-resolved results and the evidence (intensity windows and their Merkle roots). Provisional
versions are visibly unverified: no `pcf.verification`, and a comment that says so.

Biogenic split: EN 15804 GWP-biogenic is net (emissions minus uptake) and the proto does not carry
uptake separately, so a negative GWP-biogenic is reported as biogenicCO2Uptake and excluded from
pcfExcludingBiogenicUptake; a positive one counts as biogenic emissions. Thus
pcfIncludingBiogenicUptake = GWP-total and pcfExcludingBiogenicUptake = GWP-total - uptake.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from epd.v1 import footprint_pb2, intensity_pb2
from epd_records import values as v
from epd_records.errors import MappingError
from epd_records.party import PartyInfo, check_urn
from epd_records.pcr import characterization_factors, pcr_summary, sector_rule
from epd_records.status import PUBLIC, PactStatus, Viewer, served_status, status_name, was_published

SPEC_VERSION = "3.0.3"
EXTENSION_SPEC_VERSION = "2.0.0"  # WBCSD Data Model Extensions specification version
EXTENSION_NAME = "epd-record/1.0.0"

_VERIFIED = {
    footprint_pb2.FOOTPRINT_STATUS_PUBLISHED,
    footprint_pb2.FOOTPRINT_STATUS_VERIFIED,
    footprint_pb2.FOOTPRINT_STATUS_DEPRECATED,
    footprint_pb2.FOOTPRINT_STATUS_EXPIRED,
}

# UN M49 regions and sub-regions as enumerated by PACT v3.0.3 CarbonFootprint.geographyRegionOrSubregion.
UN_REGIONS = frozenset(
    {
        "Africa",
        "Americas",
        "Asia",
        "Europe",
        "Oceania",
        "Australia and New Zealand",
        "Central Asia",
        "Eastern Asia",
        "Eastern Europe",
        "Latin America and the Caribbean",
        "Melanesia",
        "Micronesia",
        "Northern Africa",
        "Northern America",
        "Northern Europe",
        "Polynesia",
        "South-eastern Asia",
        "Southern Asia",
        "Southern Europe",
        "Sub-Saharan Africa",
        "Western Asia",
        "Western Europe",
    }
)
# Short classification schemes used in FootprintVersion.classifications -> PACT URN scheme names.
CLASS_SCHEMES = {"cpc": "un-cpc", "un-cpc": "un-cpc", "hs": "hs", "cn": "cn", "cas": "cas"}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,39}$")


def pact_status(fv: footprint_pb2.FootprintVersion, viewer: Viewer) -> PactStatus:
    """The PACT status this viewer sees; MappingError for a version it may not see."""
    status = served_status(fv, viewer)
    if status is None:
        raise MappingError(f"a {status_name(fv.status)} version is not served to this viewer")
    return status


def record_status(status: int) -> str:
    """Lower-case EN 15804 record status name, e.g. 'provisional'."""
    return status_name(status)


def verified(fv: footprint_pb2.FootprintVersion) -> bool:
    """Whether a verifier approved this version (it was published, whatever became of it since)."""
    return fv.status in _VERIFIED or (fv.status == footprint_pb2.FOOTPRINT_STATUS_WITHDRAWN and was_published(fv))


def product_urn(product_id: str, prefix: str) -> str:
    pid = v.text(product_id, "product id", required=True, max_len=200)
    if pid.lower().startswith("urn:"):
        return check_urn(pid, "product id")
    return check_urn(prefix + quote(pid, safe="-._~"), "product id")


def classification_urn(code: str) -> str:
    """'hs:2846.90' -> 'urn:pact:productclassification:hs:2846.90'; URNs pass through."""
    raw = v.text(code, "classification", required=True, max_len=120)
    if raw.lower().startswith("urn:"):
        return check_urn(raw, "classification")
    scheme, _, value = raw.partition(":")
    scheme = CLASS_SCHEMES.get(scheme.lower(), "")
    if not scheme or not _CODE.match(value):
        raise MappingError(
            f"classification must be <scheme>:<code> with scheme in {sorted(CLASS_SCHEMES)}, got {raw!r}"
        )
    return f"urn:pact:productclassification:{scheme}:{value}"


def geography(value: str) -> dict[str, str]:
    """Our geography string -> the one PACT geography property it denotes ({} means global)."""
    geo = v.text(value, "geography", max_len=60)
    if geo in ("", "GLO", "Global"):
        return {}
    if re.fullmatch(r"[A-Z]{2}", geo):
        return {"geographyCountry": geo}
    if re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}", geo):
        return {"geographyCountrySubdivision": geo}
    if geo in UN_REGIONS:
        return {"geographyRegionOrSubregion": geo}
    raise MappingError(f"geography must be ISO 3166-1/-2, a UN region or empty for global, got {geo!r}")


def allocation_description(fv: footprint_pb2.FootprintVersion) -> str:
    basis = fv.allocation_basis
    price = v.text(fv.allocation_price_basis, "allocation price basis", max_len=200)
    if basis == intensity_pb2.ALLOCATION_BASIS_ECONOMIC:
        if not price:
            raise MappingError("economic allocation needs its price basis and period")
        return f"EN 15804 economic allocation between co-products; price basis: {price}"
    if basis == intensity_pb2.ALLOCATION_BASIS_MASS:
        return "EN 15804 physical (mass) allocation between co-products"
    if basis == intensity_pb2.ALLOCATION_BASIS_NONE:
        return "No allocation: single output, or allocation avoided per EN 15804"
    return "Allocation basis not stated"


def product_stage(table: v.ResultTable) -> dict[str, Decimal]:
    """A1-A3 values of the four GWP indicators, with total and fossil required."""
    stage = {name: v.a1_a3(table, name) for name in v.INDICATOR_NAMES.values()}
    for needed in ("GWP-total", "GWP-fossil"):
        if stage[needed] is None:
            raise MappingError(f"{needed} for A1-A3 (or for each of A1, A2, A3) is required")
    return {k: val for k, val in stage.items() if val is not None}


def carbon_footprint(fv: footprint_pb2.FootprintVersion, party: PartyInfo) -> dict[str, Any]:
    """The PACT `pcf` object."""
    product = party.product
    unit = v.declared_unit(fv.declared_unit, product.mass_per_declared_unit_kg)
    stage = product_stage(v.result_table(fv))
    fossil = stage["GWP-fossil"]
    if fossil < 0:
        raise MappingError("GWP-fossil A1-A3 must be >= 0 (PACT fossilGhgEmissions)")
    uptake = min(stage.get("GWP-biogenic", Decimal(0)), Decimal(0))
    start = v.timestamp(fv, "reference_period_start", "reference period start")
    end = v.timestamp(fv, "reference_period_end", "reference period end")
    assert start is not None and end is not None
    if end <= start:
        raise MappingError("reference period end must be after its start")
    pcf: dict[str, Any] = {
        "declaredUnitOfMeasurement": unit.pact_unit,
        "declaredUnitAmount": v.wire_decimal(unit.amount),
        "productMassPerDeclaredUnit": v.wire_decimal(unit.mass_kg or Decimal(0)),
        "referencePeriodStart": v.iso(start),
        "referencePeriodEnd": v.iso(end),
        **geography(fv.geography),
        "pcfExcludingBiogenicUptake": v.wire_decimal(stage["GWP-total"] - uptake),
        "pcfIncludingBiogenicUptake": v.wire_decimal(stage["GWP-total"]),
        "fossilGhgEmissions": v.wire_decimal(fossil),
        "fossilCarbonContent": v.wire_decimal(product.fossil_carbon_content),
        "ipccCharacterizationFactors": characterization_factors(fv, party),
        "crossSectoralStandards": list(dict.fromkeys(party.programme.cross_sectoral_standards)),
        "exemptedEmissionsPercent": v.wire_decimal(product.exempted_emissions_percent),
        "packagingEmissionsIncluded": False,
        "allocationRulesDescription": allocation_description(fv),
    }
    luluc = stage.get("GWP-luluc")
    if luluc is not None:
        if luluc < 0:
            raise MappingError("GWP-luluc A1-A3 must be >= 0 (PACT landUseChangeGhgEmissions)")
        pcf["landUseChangeGhgEmissions"] = v.wire_decimal(luluc)
    if "GWP-biogenic" in stage:
        pcf["biogenicCO2Uptake"] = v.wire_decimal(uptake)
    rule = sector_rule(fv, party)
    if rule is not None:
        pcf["productOrSectorSpecificRules"] = [rule]
    factor_set = v.text(fv.factor_set_version, "factor set version", max_len=80)
    if factor_set:
        pcf["secondaryEmissionFactorSources"] = [{"name": "EPD platform emission factor set", "version": factor_set}]
    verifier = v.text(fv.verifier, "verifier", max_len=200)
    if verifier and verified(fv):
        pcf["verification"] = {
            "coverage": "product level",
            "providerName": verifier,
            "standardName": ", ".join(fv.standards or party.programme.compliance),
        }
    return pcf


def record_extension(fv: footprint_pb2.FootprintVersion, party: PartyInfo, status: PactStatus) -> dict[str, Any]:
    """PACT Data Model Extension carrying EN 15804 status, registration, module results and evidence."""
    modules: dict[str, dict[str, str]] = {}
    for (module, indicator), value in sorted(v.result_table(fv).items()):
        modules.setdefault(module, {})[indicator] = v.wire_decimal(value)
    base = party.programme.extension_base_url.rstrip("/")
    data: dict[str, Any] = {
        "recordStatus": record_status(fv.status),
        "epdVersion": fv.version,
        "seriesId": v.text(fv.series_id, "series id", max_len=200),
        "registrationNumber": v.text(fv.registration_number, "registration number", max_len=200),
        "programmeOperator": v.text(fv.programme_operator, "programme operator", max_len=200)
        or party.programme.operator_name,
        "declaredUnit": v.text(fv.declared_unit, "declared unit", max_len=40),
        "results": modules,
    }
    reason = v.text(fv.reason, "reason", max_len=2000)
    if reason:
        data["statusReason"] = reason
    successor = fv.superseding_provisional_pf_id
    if successor and status is PactStatus.DEPRECATED and fv.status == footprint_pb2.FOOTPRINT_STATUS_PUBLISHED:
        data["supersededByProvisional"] = v.pf_uuid(successor, "superseding provisional pf id")
    if fv.HasField("pcr"):
        data["pcr"] = pcr_summary(fv.pcr)
    if fv.standards:
        data["standards"] = list(fv.standards)
    if fv.audit_snapshot:
        data["auditSnapshot"] = v.text(fv.audit_snapshot, "audit snapshot", required=True, max_len=64)
    if fv.evidence_root:
        data["evidenceRoot"] = v.text(fv.evidence_root, "evidence root", required=True, max_len=64)
    if fv.evidence:
        data["evidence"] = [
            {
                "windowId": v.text(e.window_id, "evidence window id", required=True, max_len=300),
                "revision": e.revision,
                "merkleRoot": v.text(e.merkle_root, "evidence Merkle root", required=True, max_len=64),
            }
            for e in fv.evidence
        ]
    return {
        "specVersion": EXTENSION_SPEC_VERSION,
        "dataSchema": f"{base}/{EXTENSION_NAME}/data-model.json",
        "documentation": f"{base}/{EXTENSION_NAME}/",
        "data": data,
    }


def product_footprint(fv: footprint_pb2.FootprintVersion, party: PartyInfo, viewer: Viewer = PUBLIC) -> dict[str, Any]:
    """Map one EPD version, as `viewer` sees it, to a PACT v3 ProductFootprint; MappingError says
    why it cannot be."""
    status = pact_status(fv, viewer)
    pf_id = v.pf_uuid(fv.pf_id, "pf id")
    preceding = [v.pf_uuid(p, "preceding pf id") for p in fv.preceding_pf_ids]
    if len(set(preceding)) != len(preceding):
        raise MappingError("preceding pf ids must be unique")
    if pf_id in preceding:
        raise MappingError("a footprint version cannot precede itself")
    created = v.timestamp(fv, "created_at", "created_at")
    assert created is not None
    name = v.text(fv.product_name, "product name", required=True, max_len=300)
    product_ids = [product_urn(fv.product_id, party.programme.product_id_prefix), *party.product.extra_product_ids]
    classes = list(dict.fromkeys(classification_urn(c) for c in fv.classifications))
    out: dict[str, Any] = {
        "id": pf_id,
        "specVersion": SPEC_VERSION,
        "created": v.iso(created),
        "status": status.value,
        "companyName": party.organisation.name,
        "companyIds": list(party.organisation.company_ids),
        "productDescription": v.text(party.product.description, "product description") or name,
        "productIds": list(dict.fromkeys(product_ids)),
        "productNameCompany": name,
        "pcf": carbon_footprint(fv, party),
        "extensions": [record_extension(fv, party, status)],
    }
    if preceding:
        out["precedingPfIds"] = preceding
    if classes:
        out["productClassifications"] = classes
    valid_from = v.timestamp(fv, "valid_from", "valid_from", required=False)
    valid_until = v.timestamp(fv, "valid_until", "valid_until", required=False)
    if valid_from and valid_until and valid_until <= valid_from:
        raise MappingError("valid_until must be after valid_from")
    if valid_from:
        out["validityPeriodStart"] = v.iso(valid_from)
    if valid_until:
        out["validityPeriodEnd"] = v.iso(valid_until)
    comment = v.text(fv.reason, "reason", max_len=2000)
    if fv.status == footprint_pb2.FOOTPRINT_STATUS_PROVISIONAL:
        comment = "Provisional version, not yet verified" + (f": {comment}" if comment else ".")
    if comment:
        out["comment"] = comment
    return out
