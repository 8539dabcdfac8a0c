"""The read model: one footprint version as `epd.v1.FootprintVersion`, built one way for everyone.

The footprint service builds it for the outbox (the change feed and every push), the gateway for
every pull. The query text lives here with the mapping, so both read the same columns with the
same rules; the services run it through their own database adapters (this package does no I/O).

Rules (kept from the footprint service, whose records partners received first):
- data owner: the product's organisation, or the plant operator when the product names none;
- geography: the plant's province when it is an ISO 3166-2 subdivision of the plant operator's
  country (e.g. CN-NM), else that ISO 3166-1 country;
- results as fixed-point decimal text (no exponent, no "-0"), evidence ordered by window and revision;
- a published version whose provisional successor awaits a verifier names it
  (`superseding_provisional_pf_id`), so viewers accepting provisional versions see one Active version;
- the series' PCR version (`pcr`) when it is registered, and what the version conforms to
  (`standards`): its PCR's standards, else the programme's (EN 15804+A2, ISO 14025) as before PCRs;
- the GWP set, the evidence root over the evidence links (epd_records.merkle) and the digest of the
  audit snapshot the version is reproduced from (footprint service, `epd audit`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any, Protocol, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import footprint_pb2, intensity_pb2
from epd_records import values as v
from epd_records.merkle import evidence_root
from epd_records.party import OrganisationInfo, PartyInfo, ProductInfo, ProgrammeInfo
from epd_records.recognition import PROGRAMME_STANDARDS


class Row(Protocol):
    """A database row by column name (an asyncpg Record, or a dict in tests)."""

    def __getitem__(self, key: str, /) -> Any: ...


R = TypeVar("R", bound=Row)


#: Geography of a version's plant (columns of VERSION_FROM's aliases `pl` and `operator`).
GEOGRAPHY_SQL = (
    "CASE WHEN pl.province ~ '^[A-Z]{2}-[A-Z0-9]{1,3}$' AND left(pl.province, 3) = operator.country || '-' "
    "THEN pl.province ELSE operator.country END"
)
#: The provisional version that succeeds `v` while it awaits a verifier (uses epd_versions_one_open).
SUCCESSOR_SQL = (
    "(SELECT n.pf_id FROM epd_versions n WHERE n.series_id = v.series_id AND n.status = 'provisional' "
    "AND n.preceding_pf_id = v.pf_id)"
)
#: Tables and aliases: v (version), s (series), p (product), pl (plant), operator (the plant's
#: organisation), product_owner (the product's organisation, if it names one), pcr (the series' PCR
#: version, if registered), snap (the version's audit snapshot, if any). Filters may refer to
#: these aliases. Both organisations are joined by their keys (not by a coalesce, which would hide
#: the join's selectivity from the planner and cost the listing its index walk).
VERSION_FROM = """
    FROM epd_versions v
    JOIN epd_series s ON s.series_id = v.series_id
    JOIN products p ON p.product_id = s.product_id
    JOIN plants pl ON pl.plant_id = s.plant_id
    JOIN organisations operator ON operator.organisation_id = pl.organisation_id
    LEFT JOIN organisations product_owner ON product_owner.organisation_id = p.organisation_id
    LEFT JOIN pcrs pcr ON pcr.pcr_id = s.pcr_id AND pcr.version = s.pcr_version
    LEFT JOIN epd_version_snapshots snap ON snap.pf_id = v.pf_id
"""


def owner_sql(column: str) -> str:
    """A column of the data owner: the product's organisation, else the plant operator."""
    return f"CASE WHEN p.organisation_id IS NULL THEN operator.{column} ELSE product_owner.{column} END"


_PCR_FIELDS = (
    "name",
    "operator",
    "operator_name",
    "valid_from",
    "valid_until",
    "declared_unit_amount",
    "declared_unit",
    "modules",
    "cut_off_rule",
    "allocation_methods",
    "gwp_set",
    "standards",
)
PCR_COLUMNS = ", ".join(f"pcr.{c} AS pcr_{c}" for c in _PCR_FIELDS)

VERSION_SELECT = f"""
    SELECT v.pf_id, v.series_id, v.version, v.status, v.preceding_pf_id, v.declared_unit,
           v.reference_period_start, v.reference_period_end, v.factor_set_version, v.allocation_basis,
           v.allocation_price_basis, v.verifier, v.valid_from, v.valid_until, v.reason, v.created_at,
           s.product_id, s.plant_id, s.pcr_id, s.pcr_version, s.programme_operator, s.registration_number,
           p.name AS product_name, p.classifications, {owner_sql("organisation_id")} AS organisation_id,
           {owner_sql("name")} AS organisation_name, {owner_sql("company_ids")} AS company_ids,
           {GEOGRAPHY_SQL} AS geography, {SUCCESSOR_SQL} AS superseding_provisional_pf_id,
           v.gwp_set, snap.digest AS audit_snapshot, {PCR_COLUMNS}
    {VERSION_FROM}"""
#: $1: uuid[] of versions.
RESULTS_SELECT = (
    "SELECT pf_id, module, indicator, value, unit FROM epd_results WHERE pf_id = ANY($1::uuid[]) "
    "ORDER BY pf_id, module, indicator"
)
EVIDENCE_SELECT = (
    "SELECT pf_id, window_id, revision, merkle_root FROM epd_evidence WHERE pf_id = ANY($1::uuid[]) "
    "ORDER BY pf_id, window_id, revision"
)

# epd_versions.status as stored -> the protobuf status (the gateway's stored records use it too).
STATUS_BY_NAME = {
    "draft": footprint_pb2.FOOTPRINT_STATUS_DRAFT,
    "provisional": footprint_pb2.FOOTPRINT_STATUS_PROVISIONAL,
    "verified": footprint_pb2.FOOTPRINT_STATUS_VERIFIED,
    "published": footprint_pb2.FOOTPRINT_STATUS_PUBLISHED,
    "deprecated": footprint_pb2.FOOTPRINT_STATUS_DEPRECATED,
    "withdrawn": footprint_pb2.FOOTPRINT_STATUS_WITHDRAWN,
    "expired": footprint_pb2.FOOTPRINT_STATUS_EXPIRED,
}
_BASIS = {
    "none": intensity_pb2.ALLOCATION_BASIS_NONE,
    "mass": intensity_pb2.ALLOCATION_BASIS_MASS,
    "economic": intensity_pb2.ALLOCATION_BASIS_ECONOMIC,
}
_MODULES = {name: code for code, name in v.MODULE_NAMES.items()}
_INDICATORS = {name: code for code, name in v.INDICATOR_NAMES.items()}
_TIMES = ("reference_period_start", "reference_period_end", "valid_from", "valid_until", "created_at")


def urn(pf_id: uuid.UUID | str) -> str:
    return f"urn:uuid:{pf_id}"


def _timestamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def footprint_version(row: Row, results: Iterable[Row], evidence: Iterable[Row]) -> footprint_pb2.FootprintVersion:
    """One VERSION_SELECT row with its RESULTS_SELECT and EVIDENCE_SELECT rows -> the version."""
    successor = row["superseding_provisional_pf_id"]
    fv = footprint_pb2.FootprintVersion(
        pf_id=urn(row["pf_id"]),
        series_id=str(row["series_id"]),
        product_id=row["product_id"],
        plant_id=row["plant_id"],
        version=row["version"],
        status=STATUS_BY_NAME.get(row["status"], footprint_pb2.FOOTPRINT_STATUS_UNSPECIFIED),
        preceding_pf_ids=[urn(row["preceding_pf_id"])] if row["preceding_pf_id"] else [],
        declared_unit=row["declared_unit"],
        factor_set_version=row["factor_set_version"],
        allocation_basis=_BASIS.get(row["allocation_basis"], intensity_pb2.ALLOCATION_BASIS_UNSPECIFIED),
        allocation_price_basis=row["allocation_price_basis"] or "",
        pcr_id=row["pcr_id"],
        pcr_version=row["pcr_version"],
        verifier=row["verifier"] or "",
        programme_operator=row["programme_operator"],
        reason=row["reason"],
        registration_number=row["registration_number"],
        product_name=row["product_name"],
        classifications=list(row["classifications"] or ()),
        organisation_id=row["organisation_id"],
        geography=row["geography"],
        organisation_name=row["organisation_name"],
        company_ids=list(row["company_ids"] or ()),
        superseding_provisional_pf_id=urn(successor) if successor else "",
        gwp_set=_optional(row, "gwp_set") or "",
        audit_snapshot=_optional(row, "audit_snapshot") or "",
    )
    pcr = category_rule(row)
    if pcr is not None:
        fv.pcr.CopyFrom(pcr)
    fv.standards.extend(pcr.standards if pcr is not None else sorted(s.value for s in PROGRAMME_STANDARDS))
    for name in _TIMES:
        if row[name] is not None:
            getattr(fv, name).CopyFrom(_timestamp(row[name]))
    for r in results:
        fv.results.add(
            module=_MODULES[r["module"]],
            indicator=_INDICATORS[r["indicator"]],
            value=v.wire_decimal(r["value"]),
            unit=r["unit"],
        )
    for e in evidence:
        fv.evidence.add(window_id=e["window_id"], revision=e["revision"], merkle_root=e["merkle_root"])
    fv.evidence_root = evidence_root((e.window_id, e.revision, e.merkle_root) for e in fv.evidence)
    return fv


def _optional(row: Row, key: str) -> Any:
    """A column that rows built before it existed (tests, older callers) may lack."""
    try:
        return row[key]
    except (KeyError, IndexError):
        return None


def _midnight(day: date) -> Timestamp:
    return _timestamp(datetime.combine(day, time(), UTC))


def category_rule(row: Row) -> footprint_pb2.ProductCategoryRule | None:
    """The series' PCR version from a VERSION_SELECT row; None when the series names an unregistered one."""
    if _optional(row, "pcr_name") is None:
        return None
    return footprint_pb2.ProductCategoryRule(
        pcr_id=row["pcr_id"],
        version=row["pcr_version"],
        name=row["pcr_name"],
        operator=row["pcr_operator"],
        operator_name=row["pcr_operator_name"],
        valid_from=_midnight(row["pcr_valid_from"]),
        valid_until=_midnight(row["pcr_valid_until"]),
        declared_unit_amount=v.wire_decimal(row["pcr_declared_unit_amount"]),
        declared_unit=row["pcr_declared_unit"],
        modules=list(row["pcr_modules"]),
        cut_off_rule=row["pcr_cut_off_rule"],
        allocation_methods=list(row["pcr_allocation_methods"]),
        gwp_set=row["pcr_gwp_set"],
        standards=list(row["pcr_standards"]),
    )


def by_version(rows: Iterable[R]) -> dict[uuid.UUID, list[R]]:
    """Result or evidence rows grouped by pf_id (in query order)."""
    out: dict[uuid.UUID, list[R]] = {}
    for r in rows:
        out.setdefault(r["pf_id"], []).append(r)
    return out


def party(fv: footprint_pb2.FootprintVersion, programme: ProgrammeInfo) -> PartyInfo:
    """Who the record names: the data owner (from the version), the programme (from settings).

    Raises MappingError when the owner cannot be named in a record (no company id, ...)."""
    owner = OrganisationInfo(name=fv.organisation_name, company_ids=tuple(fv.company_ids))
    return PartyInfo(owner, programme, ProductInfo())
