"""Reads EPD versions, partners and clients from PostgreSQL (asyncpg) and writes gateway events.

Rows become `epd.v1.FootprintVersion` messages and `PartyInfo`, so the pure format mappings do
the rest. Listing walks the stable order (created_at, pf_id) from a position (keyset pagination).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import footprint_pb2, intensity_pb2
from epd_gateway.cursor import Position
from epd_gateway.formats import values as v
from epd_gateway.formats.pact import _CLASS_SCHEMES
from epd_gateway.formats.party import OrganisationInfo
from epd_gateway.query import Filters
from epd_publisher.delivery.recognition import RecognitionAgreement, classification_key

_STATUS = {
    footprint_pb2.FootprintStatus.Name(s).removeprefix("FOOTPRINT_STATUS_").lower(): s
    for s in footprint_pb2.FootprintStatus.values()
}
_ALLOC = {
    "none": intensity_pb2.ALLOCATION_BASIS_NONE,
    "mass": intensity_pb2.ALLOCATION_BASIS_MASS,
    "economic": intensity_pb2.ALLOCATION_BASIS_ECONOMIC,
}
_MODULES = {name: code for code, name in v.MODULE_NAMES.items()}
_INDICATORS = {name: code for code, name in v.INDICATOR_NAMES.items()}

_SELECT = """
    SELECT v.pf_id, v.series_id, v.version, v.status, v.preceding_pf_id, v.declared_unit,
           v.reference_period_start, v.reference_period_end, v.factor_set_version, v.allocation_basis,
           v.allocation_price_basis, v.verifier, v.valid_from, v.valid_until, v.reason, v.created_at,
           s.product_id, s.plant_id, s.pcr_id, s.pcr_version, s.programme_operator, s.registration_number,
           p.name AS product_name, p.classifications, pl.province, o.organisation_id, o.name AS org_name,
           o.country, o.company_ids
    FROM epd_versions v
    JOIN epd_series s USING (series_id)
    JOIN products p ON p.product_id = s.product_id
    JOIN plants pl ON pl.plant_id = s.plant_id
    JOIN organisations o ON o.organisation_id = pl.organisation_id
"""
_VSTART = "coalesce(v.valid_from, v.reference_period_end)"
_VEND = f"coalesce(v.valid_until, {_VSTART} + interval '3 years')"
_ISO_SUBDIVISION = "'^[A-Z]{2}-[A-Z0-9]{1,3}$'"
_CLASS_URN = "urn:pact:productclassification:"
# recognition._DELIVERABLE: what a partner may see besides provisional versions
_PARTNER_STATUSES = frozenset({"published", "deprecated", "withdrawn", "expired"})


@dataclass(frozen=True)
class Row:
    version: footprint_pb2.FootprintVersion
    organisation: OrganisationInfo | None  # None when the organisation has no valid company id
    position: Position


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    partner_id: str
    secret_hash: str
    scopes: frozenset[str]
    usable: bool  # client enabled and partner not disabled
    agreement: Any  # raw JSON of the RecognitionAgreement


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def organisation(row: asyncpg.Record) -> OrganisationInfo | None:
    try:
        return OrganisationInfo(name=row["org_name"], company_ids=tuple(row["company_ids"] or ()))
    except ValueError:
        return None


def _geography(row: asyncpg.Record) -> str:
    province = row["province"] or ""
    return province if re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}", province) else row["country"]


def to_version(row: asyncpg.Record, results: Sequence[asyncpg.Record]) -> footprint_pb2.FootprintVersion:
    fv = footprint_pb2.FootprintVersion(
        pf_id=f"urn:uuid:{row['pf_id']}",
        series_id=str(row["series_id"]),
        product_id=row["product_id"],
        plant_id=row["plant_id"],
        version=row["version"],
        status=_STATUS.get(row["status"], 0),
        preceding_pf_ids=[f"urn:uuid:{row['preceding_pf_id']}"] if row["preceding_pf_id"] else [],
        declared_unit=row["declared_unit"],
        factor_set_version=row["factor_set_version"],
        allocation_basis=_ALLOC.get(row["allocation_basis"], 0),
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
        geography=_geography(row),
    )
    for name in ("reference_period_start", "reference_period_end", "valid_from", "valid_until", "created_at"):
        ts = _ts(row[name])
        if ts is not None:
            getattr(fv, name).CopyFrom(ts)
    for r in results:
        value: Decimal = r["value"]
        fv.results.add(
            module=_MODULES[r["module"]],
            indicator=_INDICATORS[r["indicator"]],
            value=v.wire_decimal(value),
            unit=r["unit"],
        )
    return fv


def _where(filters: Filters, product_prefix: str, args: list[Any]) -> list[str]:
    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    clauses = [f"v.status = ANY({arg(list(filters.statuses))}::text[])"]
    if filters.product_ids:
        clauses.append(f"lower(s.product_id) = ANY({arg(list(filters.product_id_candidates(product_prefix)))})")
    if filters.company_ids:
        clauses.append(
            f"EXISTS (SELECT 1 FROM unnest(o.company_ids) c WHERE lower(c) = ANY({arg(list(filters.company_ids))}))"
        )
    if filters.geographies:
        g = arg(list(filters.geographies))
        clauses.append(
            f"(lower(o.country) = ANY({g}) OR (pl.province ~ {_ISO_SUBDIVISION} AND lower(pl.province) = ANY({g})))"
        )
    if filters.valid_on is not None:
        t = arg(filters.valid_on)
        clauses.append(f"{_VSTART} <= {t} AND {t} <= {_VEND}")
    if filters.valid_after is not None:
        clauses.append(f"{_VSTART} > {arg(filters.valid_after)}")
    if filters.valid_before is not None:
        clauses.append(f"{_VEND} < {arg(filters.valid_before)}")
    if filters.classifications:
        # containment, not equality: the mapping strips surrounding whitespace (a superset; Python decides)
        clauses.append(
            f"EXISTS (SELECT 1 FROM unnest(p.classifications) c, "
            f"unnest({arg(list(classification_candidates(filters.classifications)))}::text[]) k "
            "WHERE strpos(lower(c), k) > 0)"
        )
    return clauses


def classification_candidates(urns: Sequence[str]) -> tuple[str, ...]:
    """Lower-cased stored classification codes that formats.pact.classification_urn maps to one of
    `urns` (lower-cased): the URN itself (stored as a URN) or `<scheme>:<code>` short forms."""
    out = set(urns)
    for urn in urns:
        rest = urn.removeprefix(_CLASS_URN)
        if rest != urn:
            scheme, _, code = rest.partition(":")
            out.update(f"{short}:{code}" for short, full in _CLASS_SCHEMES.items() if full == scheme)
    return tuple(sorted(out))


def _agreement_where(agreement: RecognitionAgreement, args: list[Any]) -> list[str]:
    """A superset of what `recognises(agreement, ...)` accepts, as SQL (the Python check still decides):
    statuses the partner may see, a PCR id it names, a product-class prefix it names."""

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    statuses = sorted(_PARTNER_STATUSES | ({"provisional"} if agreement.accepts_provisional else set()))
    pcrs = sorted({rule.pcr_id for rule in agreement.pcrs})
    patterns = sorted(
        {
            f"%{scheme.replace('-', '')}:{code}%"
            for scheme, code in (classification_key(c) for c in agreement.product_classes if classification_key(c))
        }
    )
    return [
        f"v.status = ANY({arg(statuses)}::text[])",
        f"EXISTS (SELECT 1 FROM unnest({arg(pcrs)}::text[]) r WHERE strpos(s.pcr_id, r) > 0)",
        "EXISTS (SELECT 1 FROM unnest(p.classifications) c "
        f"WHERE translate(lower(c), '. -', '') LIKE ANY({arg(patterns)}::text[]))",
    ]


@dataclass(frozen=True, slots=True)
class Recognisable:
    """The fields `recognises` reads, straight from a row (no result rows or proto needed)."""

    product_id: str
    status: str
    pcr_id: str
    pcr_version: str
    classifications: tuple[str, ...]


def recognisable(row: asyncpg.Record) -> Recognisable:
    return Recognisable(
        row["product_id"], row["status"], row["pcr_id"], row["pcr_version"], tuple(row["classifications"] or ())
    )


def position(row: asyncpg.Record) -> Position:
    return Position(row["created_at"], str(row["pf_id"]))


class Repository:
    def __init__(self, pool: asyncpg.Pool, product_prefix: str) -> None:
        self.pool, self.prefix = pool, product_prefix

    async def _rows(self, sql: str, args: Sequence[Any]) -> list[Row]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(sql, *args)
            if not rows:
                return []
            results = await conn.fetch(
                "SELECT pf_id, module, indicator, value, unit FROM epd_results WHERE pf_id = ANY($1::uuid[])",
                [r["pf_id"] for r in rows],
            )
        by_pf: dict[uuid.UUID, list[asyncpg.Record]] = {}
        for r in results:
            by_pf.setdefault(r["pf_id"], []).append(r)
        return [
            Row(to_version(r, by_pf.get(r["pf_id"], [])), organisation(r), Position(r["created_at"], str(r["pf_id"])))
            for r in rows
        ]

    async def page(self, filters: Filters, after: Position | None, size: int) -> list[Row]:
        return await self._rows(*self._page_sql(filters, after, size, None))

    def _page_sql(
        self, filters: Filters, after: Position | None, size: int, agreement: RecognitionAgreement | None
    ) -> tuple[str, list[Any]]:
        args: list[Any] = []
        clauses = _where(filters, self.prefix, args)
        if agreement is not None:
            clauses += _agreement_where(agreement, args)
        if after is not None:
            args.extend([after.created_at, uuid.UUID(after.pf_id)])
            clauses.append(f"(v.created_at, v.pf_id) > (${len(args) - 1}, ${len(args)})")
        args.append(size)
        return f"{_SELECT} WHERE {' AND '.join(clauses)} ORDER BY v.created_at, v.pf_id LIMIT ${len(args)}", args

    async def page_records(
        self, filters: Filters, agreement: RecognitionAgreement, after: Position | None, size: int
    ) -> list[asyncpg.Record]:
        """Rows in list order, narrowed in SQL by the filters and (as a superset) by the agreement."""
        sql, args = self._page_sql(filters, after, size, agreement)
        return await self.pool.fetch(sql, *args)

    async def results(self, pf_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[asyncpg.Record]]:
        """Result rows of several versions in one query."""
        by_pf: dict[uuid.UUID, list[asyncpg.Record]] = {pf: [] for pf in pf_ids}
        if pf_ids:
            for r in await self.pool.fetch(
                "SELECT pf_id, module, indicator, value, unit FROM epd_results WHERE pf_id = ANY($1::uuid[])",
                list(pf_ids),
            ):
                by_pf[r["pf_id"]].append(r)
        return by_pf

    async def get(self, pf_id: uuid.UUID) -> Row | None:
        rows = await self._rows(f"{_SELECT} WHERE v.pf_id = $1", [pf_id])
        return rows[0] if rows else None

    async def client(self, client_id: str) -> ClientRecord | None:
        row = await self.pool.fetchrow(
            """
            SELECT c.client_id, c.partner_id, c.secret_hash, c.scopes, c.disabled, p.disabled_at, p.agreement
            FROM gateway_clients c JOIN partners p USING (partner_id) WHERE c.client_id = $1""",
            client_id,
        )
        if row is None:
            return None
        agreement = row["agreement"]
        return ClientRecord(
            row["client_id"],
            row["partner_id"],
            row["secret_hash"],
            frozenset(row["scopes"]),
            not row["disabled"] and row["disabled_at"] is None,
            json.loads(agreement) if isinstance(agreement, str) else agreement,
        )

    async def add_client(self, client_id: str, partner_id: str, secret_hash: str, scopes: Sequence[str]) -> None:
        await self.pool.execute(
            "INSERT INTO gateway_clients (client_id, partner_id, secret_hash, scopes) VALUES ($1, $2, $3, $4)",
            client_id,
            partner_id,
            secret_hash,
            list(scopes),
        )

    async def record_event(
        self, client_id: str, event_id: str, event_type: str, source: str, body: dict[str, Any]
    ) -> bool:
        """Store an incoming event once per (client, event id); False when it was already there."""
        status = await self.pool.execute(
            """
            INSERT INTO gateway_incoming_events (client_id, event_id, event_type, source, body)
            VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING""",
            client_id,
            event_id,
            event_type,
            source,
            # jsonb cannot hold NUL: keep the event, with U+FFFD in its place
            json.dumps(body).replace("\\u0000", "\\ufffd"),
        )
        return status.endswith(" 1")
