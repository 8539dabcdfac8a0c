"""Reads EPD versions, clients and agreements from PostgreSQL (asyncpg) and writes gateway events.

Versions come through the record model's read model (`epd_records.readmodel`), the same query and
mapping the footprint service uses for the outbox: what a partner pulls is what it was pushed.
Listing walks the stable order (created_at, pf_id) from a position (keyset pagination); SQL narrows
by the filters and, as a superset, by the caller's agreement; Python (`recognises`) decides. Each
page row comes with its stored signed record (`stored`, table gateway_records) when that is current.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from epd.v1.footprint_pb2 import FootprintVersion
from epd_gateway import stored
from epd_gateway.cursor import Position
from epd_gateway.query import Filters
from epd_records import readmodel
from epd_records.pact import CLASS_SCHEMES
from epd_records.recognition import RecognitionAgreement, classification_key
from epd_records.status import PactStatus, Viewer

_VSTART = "coalesce(v.valid_from, v.reference_period_end)"
_VEND = f"coalesce(v.valid_until, {_VSTART} + interval '3 years')"
_CLASS_URN = "urn:pact:productclassification:"
# epd_records.status as SQL over a version's facts (gateway_inputs `f`), for a viewer with or without
# provisional versions ({p}: accepts provisional).
_VISIBLE = (
    "(f.status IN ('verified', 'published', 'deprecated', 'expired') "
    "OR (f.status = 'withdrawn' AND (f.was_published OR {p})) OR (f.status = 'provisional' AND {p}))"
)
_ACTIVE = "(f.status IN ('provisional', 'verified') OR (f.status = 'published' AND NOT ({p} AND f.superseded)))"
#: Filters that read read-model columns beyond the facts (they join it to the walk).
_READ_MODEL_FILTERS = ("product_ids", "company_ids", "geographies", "valid_on", "valid_after", "valid_before")


class Stored(StrEnum):
    """What became of an incoming event."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # this client sent this event id before: stored already
    OVER_QUOTA = "over_quota"  # the client's stored events are at their quota: not stored


@dataclass(frozen=True)
class EventQuota:
    """Stored incoming events allowed per client: how many, and how many bytes (as stored)."""

    events: int
    bytes: int


# The client's usage and the insert in one statement: inserted only under the quota; `known` (from the
# statement's snapshot) tells a duplicate from a refusal.
_RECORD_EVENT = """
    WITH usage AS (
        SELECT count(*) AS events, coalesce(sum(pg_column_size(body)), 0) AS bytes
        FROM gateway_incoming_events WHERE client_id = $1
    ), stored AS (
        INSERT INTO gateway_incoming_events (client_id, event_id, event_type, source, body)
        SELECT $1, $2, $3, $4, $5::jsonb FROM usage WHERE usage.events < $6 AND usage.bytes + $8 <= $7
        ON CONFLICT DO NOTHING RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM stored) AS stored,
           EXISTS (SELECT 1 FROM gateway_incoming_events WHERE client_id = $1 AND event_id = $2) AS known"""
_PURGE_EVENTS = """
    DELETE FROM gateway_incoming_events WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM gateway_incoming_events WHERE received_at < now() - make_interval(secs => $1) LIMIT $2))"""


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    partner_id: str
    secret_hash: str
    scopes: frozenset[str]
    usable: bool  # client enabled and partner not disabled
    agreement: Any  # raw JSON of the RecognitionAgreement


#: A client and its partner by client id ({id}: the parameter), as `client_record` reads it.
CLIENT_SELECT = """
    SELECT c.client_id, c.partner_id, c.secret_hash, c.scopes, c.disabled, p.disabled_at, p.agreement
    FROM gateway_clients c JOIN partners p USING (partner_id) WHERE c.client_id = {id}"""


def client_record(row: asyncpg.Record | None) -> ClientRecord | None:
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


def classification_candidates(urns: Sequence[str]) -> tuple[str, ...]:
    """Lower-cased stored classification codes that epd_records.pact.classification_urn maps to one
    of `urns` (lower-cased): the URN itself (stored as a URN) or `<scheme>:<code>` short forms."""
    out = set(urns)
    for urn in urns:
        rest = urn.removeprefix(_CLASS_URN)
        if rest != urn:
            scheme, _, code = rest.partition(":")
            out.update(f"{short}:{code}" for short, full in CLASS_SCHEMES.items() if full == scheme)
    return tuple(sorted(out))


class _Args:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _filter_clauses(filters: Filters, product_prefix: str, provisional: str, arg: _Args) -> list[str]:
    clauses = []
    if filters.product_ids is not None:
        candidates = list(filters.product_id_candidates(product_prefix))
        clauses.append(f"lower(s.product_id) = ANY({arg(candidates)}::text[])")
    if filters.company_ids is not None:
        clauses.append(
            f"EXISTS (SELECT 1 FROM unnest({readmodel.owner_sql('company_ids')}) c "
            f"WHERE lower(c) = ANY({arg(list(filters.company_ids))}))"
        )
    if filters.geographies is not None:
        g = arg(list(filters.geographies))
        # within: a country matches its subdivisions too
        clauses.append(f"(lower({readmodel.GEOGRAPHY_SQL}) = ANY({g}) OR lower(operator.country) = ANY({g}))")
    if filters.valid_on is not None:
        t = arg(filters.valid_on)
        clauses.append(f"{_VSTART} <= {t} AND {t} <= {_VEND}")
    if filters.valid_after is not None:
        clauses.append(f"{_VSTART} > {arg(filters.valid_after)}")
    if filters.valid_before is not None:
        clauses.append(f"{_VEND} < {arg(filters.valid_before)}")
    if filters.classifications is not None:
        # containment, not equality: the mapping strips surrounding whitespace (a superset; Python decides)
        codes = arg(list(classification_candidates(filters.classifications)))
        clauses.append(
            "EXISTS (SELECT 1 FROM unnest(f.classifications) c, "
            f"unnest({codes}::text[]) k WHERE strpos(lower(c), k) > 0)"
        )
    if filters.statuses is not None and len(filters.statuses) == 1:
        active = _ACTIVE.format(p=provisional)
        clauses.append(active if filters.statuses[0] is PactStatus.ACTIVE else f"NOT {active}")
    return clauses


def _agreement_clauses(agreement: RecognitionAgreement, provisional: str, arg: _Args) -> list[str]:
    """A superset of what `recognises(agreement, ...)` accepts, as SQL (Python still decides):
    what the partner may see, a PCR id it names, a product-class prefix it names."""
    pcrs = sorted({rule.pcr_id for rule in agreement.pcrs})
    keys = [classification_key(c) for c in agreement.product_classes]
    patterns = sorted({f"%{key[0].replace('-', '')}:{key[1]}%" for key in keys if key})
    return [
        _VISIBLE.format(p=provisional),
        f"EXISTS (SELECT 1 FROM unnest({arg(pcrs)}::text[]) r WHERE strpos(f.pcr_id, r) > 0)",
        "EXISTS (SELECT 1 FROM unnest(f.classifications) c "
        f"WHERE translate(lower(c), '. -', '') LIKE ANY({arg(patterns)}::text[]))",
    ]


class Repository:
    def __init__(self, pool: asyncpg.Pool, product_prefix: str) -> None:
        self.pool, self.prefix = pool, product_prefix

    async def page(
        self,
        filters: Filters,
        agreement: RecognitionAgreement | None,
        after: Position | None,
        size: int,
        viewer: Viewer,
        kid: str,
    ) -> list[asyncpg.Record]:
        """Page rows (stored.PAGE_COLUMNS) in list order after `after`, narrowed in SQL by the filters and
        (as a superset) by the agreement, or by what the viewer may see when there is none."""
        arg = _Args()
        provisional = f"{arg(viewer.accepts_provisional)}::boolean"
        clauses = _filter_clauses(filters, self.prefix, provisional, arg)
        if agreement is None:
            clauses.append(_VISIBLE.format(p=provisional))
        else:
            clauses.extend(_agreement_clauses(agreement, provisional, arg))
        if after is not None:
            clauses.append(f"(f.created_at, f.pf_id) > ({arg(after.created_at)}, {arg(uuid.UUID(after.pf_id))})")
        joined = stored.READ_MODEL_JOIN if any(getattr(filters, n) is not None for n in _READ_MODEL_FILTERS) else ""
        sql = (
            f"SELECT {stored.PAGE_COLUMNS} FROM (SELECT f.* {stored.FACTS_FROM} {joined} "
            f"WHERE {' AND '.join(clauses)} ORDER BY f.created_at, f.pf_id LIMIT {arg(size)}) q "
            f"{stored.STORED_JOIN.format(p=provisional, kid=arg(kid))} ORDER BY q.created_at, q.pf_id"
        )
        return list(await self.pool.fetch(sql, *arg.values))

    async def get(self, pf_id: uuid.UUID, viewer: Viewer, kid: str) -> asyncpg.Record | None:
        """One version's page row (stored.PAGE_COLUMNS), whoever may see it."""
        return await self.pool.fetchrow(
            f"SELECT {stored.PAGE_COLUMNS} FROM (SELECT f.* {stored.FACTS_FROM} WHERE f.pf_id = $1) q "
            f"{stored.STORED_JOIN.format(p='$2::boolean', kid='$3')}",
            pf_id,
            viewer.accepts_provisional,
            kid,
        )

    async def versions(self, pf_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, int | None, FootprintVersion]]:
        """(pf_id, inputs stamp, full version) of the versions that exist: the stamp and the version
        from one snapshot of the read-model row, then one results and one evidence query for all."""
        if not pf_ids:
            return []
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT q.*, {stored.STAMP_SQL} AS stamp__ FROM ({readmodel.VERSION_SELECT} "
                "WHERE v.pf_id = ANY($1::uuid[])) q",
                list(pf_ids),
            )
            ids = [r["pf_id"] for r in rows]
            results = readmodel.by_version(await conn.fetch(readmodel.RESULTS_SELECT, ids))
            evidence = readmodel.by_version(await conn.fetch(readmodel.EVIDENCE_SELECT, ids))
        out = []
        for r in rows:
            pf = r["pf_id"]
            out.append((pf, r["stamp__"], readmodel.footprint_version(r, results.get(pf, []), evidence.get(pf, []))))
        return out

    async def store(self, viewer: Viewer, kid: str, rendered: list[tuple[uuid.UUID, int, stored.StoredRecord]]) -> None:
        """Store rendered records (UPSERT: the same inputs are the same bytes, whoever rendered them)."""
        if rendered:
            await self.pool.execute(stored.UPSERT, *stored.upsert_args(viewer.accepts_provisional, kid, rendered))

    async def drop_retired(self, kid: str) -> int:
        """Delete stored records signed by any key but `kid` (after a rotation); returns how many."""
        status = await self.pool.execute("DELETE FROM gateway_records WHERE kid <> $1", kid)
        return int(status.split()[-1])

    async def client(self, client_id: str) -> ClientRecord | None:
        return client_record(await self.pool.fetchrow(CLIENT_SELECT.format(id="$1"), client_id))

    async def add_client(self, client_id: str, partner_id: str, secret_hash: str, scopes: Sequence[str]) -> None:
        await self.pool.execute(
            "INSERT INTO gateway_clients (client_id, partner_id, secret_hash, scopes) VALUES ($1, $2, $3, $4)",
            client_id,
            partner_id,
            secret_hash,
            list(scopes),
        )

    async def record_event(
        self, client_id: str, event_id: str, event_type: str, source: str, body: dict[str, Any], quota: EventQuota
    ) -> Stored:
        """Store an incoming event once per (client, event id), within the client's quota of stored events
        (count and bytes as PostgreSQL stores them; concurrent posts may overshoot it by a few)."""
        text = json.dumps(body).replace("\\u0000", "\\ufffd")  # jsonb cannot hold NUL: U+FFFD in its place
        row = await self.pool.fetchrow(
            _RECORD_EVENT, client_id, event_id, event_type, source, text, quota.events, quota.bytes, len(text.encode())
        )
        assert row is not None  # the statement always returns one row
        if row["stored"]:
            return Stored.STORED
        return Stored.DUPLICATE if row["known"] else Stored.OVER_QUOTA

    async def purge_events(self, older_than_days: float, batch: int = 10_000) -> int:
        """Delete up to ``batch`` incoming events received more than ``older_than_days`` ago; returns how many."""
        status = await self.pool.execute(_PURGE_EVENTS, older_than_days * 86400.0, batch)
        return int(status.split()[-1])
