"""EPD versions and their outbox rows, always in the caller's transaction (asyncpg connection).

Every new version or status change appends one outbox row whose payload is a serialised
epd.v1.FootprintChanged carrying the full FootprintVersion as it is after the change; the per-product
sequence comes from outbox_sequences in the same transaction, so the relay sees one gap-free order
per product. event_id = uuid5(pf_id | change type): a replayed change cannot make a second event.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import footprint_pb2
from epd_records import readmodel

from .domain.lifecycle import LifecycleError, Status, transition, valid_until
from .errors import FootprintError
from .snapshot import sha256_json

EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:epd:footprint-event")
VERSION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:epd:footprint-version")
CHANGE = {
    "created": footprint_pb2.FOOTPRINT_CHANGE_TYPE_CREATED,
    "verified": footprint_pb2.FOOTPRINT_CHANGE_TYPE_VERIFIED,
    "published": footprint_pb2.FOOTPRINT_CHANGE_TYPE_PUBLISHED,
    "deprecated": footprint_pb2.FOOTPRINT_CHANGE_TYPE_DEPRECATED,
    "withdrawn": footprint_pb2.FOOTPRINT_CHANGE_TYPE_WITHDRAWN,
    "expired": footprint_pb2.FOOTPRINT_CHANGE_TYPE_EXPIRED,
    "rejected": footprint_pb2.FOOTPRINT_CHANGE_TYPE_REJECTED,
    "successor_changed": footprint_pb2.FOOTPRINT_CHANGE_TYPE_SUCCESSOR_CHANGED,
}


class VersionError(FootprintError):
    """A version operation that is not allowed (unknown id, forbidden transition); maps to 4xx."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class AlreadyOpen(VersionError):
    """The series already has an open (draft/provisional) version: the unique index said so."""


@dataclass
class NewVersion:
    series_id: uuid.UUID
    status: Status
    results: dict[str, dict[str, Decimal]]  # module -> indicator -> value
    reason: str
    period_start: datetime
    period_end: datetime
    factor_set_version: str
    allocation_basis: str = "none"
    allocation_price_basis: str | None = None
    gwp_set: str = "AR6"
    declared_unit: str = "kg"
    verifier: str | None = None
    valid_from: datetime | None = None
    trigger_key: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    # What the version is reproduced from (snapshot.build_snapshot); stored content-addressed.
    snapshot: dict[str, Any] | None = None


def _ts(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


async def create_version(conn: asyncpg.Connection, new: NewVersion, change_type: str) -> uuid.UUID:
    """Insert the next version of a series with results, evidence and an outbox row.

    Raises AlreadyOpen when the series has an open version (inside a savepoint, so the caller's
    transaction stays usable)."""
    preceding = await conn.fetchval(
        "SELECT pf_id FROM epd_versions WHERE series_id = $1 AND status = 'published'", new.series_id
    )
    number = await conn.fetchval(
        "SELECT coalesce(max(version), 0) + 1 FROM epd_versions WHERE series_id = $1", new.series_id
    )
    pf_id = uuid.uuid5(VERSION_NAMESPACE, f"{new.series_id}|{number}")
    until = valid_until(new.valid_from) if new.valid_from else None
    try:
        async with conn.transaction():  # savepoint
            await conn.execute(
                """INSERT INTO epd_versions (pf_id, series_id, version, status, preceding_pf_id, declared_unit,
                       reference_period_start, reference_period_end, factor_set_version, gwp_set, allocation_basis,
                       allocation_price_basis, verifier, valid_from, valid_until, reason, trigger_key)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)""",
                pf_id,
                new.series_id,
                number,
                new.status.value,
                preceding,
                new.declared_unit,
                new.period_start,
                new.period_end,
                new.factor_set_version,
                new.gwp_set,
                new.allocation_basis,
                new.allocation_price_basis,
                new.verifier,
                new.valid_from,
                until,
                new.reason,
                new.trigger_key,
            )
    except asyncpg.UniqueViolationError as exc:
        raise AlreadyOpen(
            "already_open", f"series {new.series_id} already has an open version ({exc.constraint_name})"
        ) from None
    await conn.executemany(
        "INSERT INTO epd_results (pf_id, module, indicator, value) VALUES ($1, $2, $3, $4)",
        [(pf_id, m, i, v) for m, row in new.results.items() for i, v in row.items()],
    )
    await conn.executemany(
        "INSERT INTO epd_evidence (pf_id, window_id, revision, merkle_root) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING",
        [(pf_id, e["window_id"], e["revision"], e["merkle_root"]) for e in new.evidence],
    )
    if new.snapshot is not None:  # before the outbox row: the record carries the snapshot's digest
        digest = sha256_json(new.snapshot)
        await conn.execute(
            "INSERT INTO audit_objects (digest, kind, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            digest,
            new.snapshot["format"],
            json.dumps(new.snapshot),
        )
        await conn.execute("INSERT INTO epd_version_snapshots (pf_id, digest) VALUES ($1, $2)", pf_id, digest)
    await append_outbox(conn, pf_id, change_type)
    if new.status is Status.PROVISIONAL and preceding is not None:
        # Viewers that accept provisional versions now see the published one as superseded.
        await append_outbox(conn, preceding, "successor_changed", occasion=f"{pf_id}|opened")
    return pf_id


async def footprint_version(conn: asyncpg.Connection, pf_id: uuid.UUID) -> footprint_pb2.FootprintVersion:
    """The version as the read model builds it (the same record the gateway serves)."""
    row = await conn.fetchrow(f"{readmodel.VERSION_SELECT} WHERE v.pf_id = $1", pf_id)
    if row is None:
        raise VersionError("unknown_version", f"no EPD version {pf_id}")
    results = await conn.fetch(readmodel.RESULTS_SELECT, [pf_id])
    evidence = await conn.fetch(readmodel.EVIDENCE_SELECT, [pf_id])
    return readmodel.footprint_version(row, results, evidence)


async def append_outbox(conn: asyncpg.Connection, pf_id: uuid.UUID, change_type: str, occasion: str = "") -> int:
    """One outbox row for a change of `pf_id`, with the version as it is now; returns its sequence.

    `occasion` tells apart changes of one type that can happen to a version more than once (a
    provisional successor appearing, then going away): it is part of the event id."""
    fv = await footprint_version(conn, pf_id)
    seq = await conn.fetchval(
        """INSERT INTO outbox_sequences (product_id, last_sequence) VALUES ($1, 1)
           ON CONFLICT (product_id) DO UPDATE SET last_sequence = outbox_sequences.last_sequence + 1
           RETURNING last_sequence""",
        fv.product_id,
    )
    event_id = uuid.uuid5(EVENT_NAMESPACE, f"{pf_id}|{change_type}" + (f"|{occasion}" if occasion else ""))
    event = footprint_pb2.FootprintChanged(
        event_id=str(event_id),
        product_id=fv.product_id,
        pf_id=fv.pf_id,
        version=fv.version,
        change_type=CHANGE[change_type],
        footprint=fv,
        occurred_at=_ts(datetime.now(UTC)),
        product_sequence=seq,
    )
    await conn.execute(
        """INSERT INTO outbox (event_id, product_id, product_sequence, pf_id, version, change_type, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        event_id,
        fv.product_id,
        seq,
        pf_id,
        fv.version,
        change_type,
        event.SerializeToString(deterministic=True),
    )
    return seq


async def move(conn: asyncpg.Connection, pf_id: uuid.UUID, target: Status, change_type: str, **sets: Any) -> Status:
    """Move a version's status along the lifecycle (row locked), with its outbox row."""
    current = await conn.fetchval("SELECT status FROM epd_versions WHERE pf_id = $1 FOR UPDATE", pf_id)
    if current is None:
        raise VersionError("unknown_version", f"no EPD version {pf_id}")
    if current == "rejected":
        raise VersionError("forbidden_transition", f"version {pf_id} was rejected; no further transitions")
    try:
        transition(current, target)
    except LifecycleError as exc:
        raise VersionError("forbidden_transition", str(exc)) from None
    assign = "".join(f", {k} = ${i}" for i, k in enumerate(sets, start=3))
    await conn.execute(
        f"UPDATE epd_versions SET status = $2, status_changed_at = now(){assign} WHERE pf_id = $1",
        pf_id,
        target.value,
        *sets.values(),
    )
    await append_outbox(conn, pf_id, change_type)
    if current == Status.PROVISIONAL and target in (Status.WITHDRAWN, Status.DEPRECATED):
        preceding = await conn.fetchval(
            """SELECT p.pf_id FROM epd_versions v JOIN epd_versions p ON p.pf_id = v.preceding_pf_id
               WHERE v.pf_id = $1 AND p.status = 'published'""",
            pf_id,
        )
        if preceding is not None:  # the published version is current again for every viewer
            await append_outbox(conn, preceding, "successor_changed", occasion=f"{pf_id}|closed")
    return Status(current)


async def approve(conn: asyncpg.Connection, pf_id: uuid.UUID, verifier: str, now: datetime) -> uuid.UUID | None:
    """provisional -> verified -> published; the preceding published version -> deprecated.

    Returns the deprecated pf_id, if any. Drift state of the series restarts (new baseline)."""
    series_id = await conn.fetchval("SELECT series_id FROM epd_versions WHERE pf_id = $1", pf_id)
    if series_id is None:
        raise VersionError("unknown_version", f"no EPD version {pf_id}")
    current = await conn.fetchval("SELECT status FROM epd_versions WHERE pf_id = $1 FOR UPDATE", pf_id)
    if current != Status.PROVISIONAL.value:
        raise VersionError("forbidden_transition", f"only a provisional version can be approved; {pf_id} is {current}")
    await move(conn, pf_id, Status.VERIFIED, "verified", verifier=verifier)
    old = await conn.fetchval(
        "SELECT pf_id FROM epd_versions WHERE series_id = $1 AND status = 'published' FOR UPDATE", series_id
    )
    if old is not None:
        await move(conn, old, Status.DEPRECATED, "deprecated")
    await move(conn, pf_id, Status.PUBLISHED, "published", valid_from=now, valid_until=valid_until(now))
    await conn.execute("DELETE FROM footprint_drift_state WHERE series_id = $1", series_id)
    return old


async def expire_due(conn: asyncpg.Connection, now: datetime) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """SELECT pf_id FROM epd_versions WHERE status IN ('published', 'deprecated')
           AND valid_until IS NOT NULL AND valid_until <= $1 ORDER BY pf_id FOR UPDATE SKIP LOCKED""",
        now,
    )
    for r in rows:
        await move(conn, r["pf_id"], Status.EXPIRED, "expired")
    return [r["pf_id"] for r in rows]
