"""`epd audit`: reproduce a version from what was stored when it was made, and prove that one meter
reading is inside a published number (the reading -> its hourly window -> the version's window ->
the version's evidence root -> the signed record). PostgreSQL reads; the logic is in reproduce.py,
snapshot.py and epd_records.merkle / epd_records.proof.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from epd.v1 import footprint_pb2
from epd_records import readmodel
from epd_records.merkle import evidence_leaf, evidence_root, merkle_path, merkle_root
from epd_records.party import ProgrammeInfo
from epd_records.proof import PROOF_FORMAT
from epd_records.record import signed_pact_record
from epd_records.signing import KeyRing, content_sha256
from epd_records.status import Viewer

from .errors import FootprintError
from .repository import WINDOW_TOTALS_SELECT, totals_doc
from .reproduce import Reproduction, reproduce
from .versions import footprint_version

HOUR = timedelta(hours=1)
_NS = 1_000_000_000
_HASH = re.compile(r"^[0-9a-f]{64}$")


class AuditError(FootprintError):
    """A version or reading the audit cannot work on (unknown, no snapshot, no proof); the message says why."""


async def load_reproduction(conn: asyncpg.Connection, pf_id: uuid.UUID) -> Reproduction:
    row = await conn.fetchrow(
        """SELECT v.pf_id, snap.digest, o.body FROM epd_versions v
           LEFT JOIN epd_version_snapshots snap ON snap.pf_id = v.pf_id
           LEFT JOIN audit_objects o ON o.digest = snap.digest WHERE v.pf_id = $1""",
        pf_id,
    )
    if row is None:
        raise AuditError(f"no EPD version {pf_id}")
    if row["digest"] is None:
        raise AuditError(
            f"version {pf_id} has no audit snapshot: it was imported, or made before snapshots were stored "
            "(migration 0008), and cannot be reproduced"
        )
    snapshot = json.loads(row["body"])
    published = {
        (r["module"], r["indicator"]): Decimal(r["value"])
        for r in await conn.fetch("SELECT module, indicator, value FROM epd_results WHERE pf_id = $1", pf_id)
    }
    ref = snapshot.get("system", {})
    system = await conn.fetchrow(
        "SELECT document, binding FROM footprint_product_systems WHERE system_id = $1 AND version = $2",
        ref.get("system_id"),
        ref.get("version"),
    )
    keys = [(w["window_id"], w["revision"]) for w in snapshot.get("windows", [])]
    rows = await conn.fetch(
        f"{WINDOW_TOTALS_SELECT} WHERE (window_id, revision) IN (SELECT * FROM unnest($1::text[], $2::int[]))",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    windows: dict[tuple[str, int], dict[str, Any] | None] = {
        (r["window_id"], r["revision"]): totals_doc(r) for r in rows
    }
    rep = reproduce(
        str(pf_id),
        snapshot,
        json.loads(system["document"]) if system else None,
        json.loads(system["binding"]) if system else None,
        windows,
        published,
    )
    if content_sha256(snapshot) != row["digest"]:
        rep.differences.insert(0, f"the stored snapshot {row['digest']} changed: its content no longer has that digest")
    event = await conn.fetchval(
        "SELECT payload FROM outbox WHERE pf_id = $1 AND change_type = 'created' ORDER BY outbox_id LIMIT 1", pf_id
    )
    if event is not None:
        sent = footprint_pb2.FootprintChanged.FromString(event).footprint.audit_snapshot
        if sent != row["digest"]:
            rep.differences.append(
                f"the version's first change event named snapshot {sent or 'none'}, not {row['digest']}"
            )
    if system is None:
        rep.differences.insert(0, f"product system {ref.get('system_id')} version {ref.get('version')} is not stored")
    return rep


# -- prove -----------------------------------------------------------------------------------------


async def find_reading(conn: asyncpg.Connection, reading: str) -> asyncpg.Record:
    """READING: a 64-hex reading hash, or METER@TIMESTAMP (ISO 8601, with a zone)."""
    if _HASH.fullmatch(reading):
        row = await conn.fetchrow(
            "SELECT process_id, plant_id, meter_id, observed_ns, reading_hash FROM evidence_readings "
            "WHERE reading_hash = $1 LIMIT 1",
            bytes.fromhex(reading),
        )
    else:
        meter, sep, when = reading.rpartition("@")
        try:
            moment = datetime.fromisoformat(when)
        except ValueError:
            moment = None
        if not sep or not meter or moment is None or moment.tzinfo is None:
            raise AuditError("READING is a 64-hex reading hash or METER@TIMESTAMP (ISO 8601 with a zone)")
        ns = int(moment.timestamp()) * _NS + moment.microsecond * 1000
        row = await conn.fetchrow(
            "SELECT e.process_id, e.plant_id, e.meter_id, e.observed_ns, e.reading_hash FROM evidence_readings e "
            "JOIN meters m ON m.process_id = e.process_id AND m.meter_id = e.meter_id "
            "WHERE m.meter_id = $1 AND e.observed_ns = $2",
            meter,
            ns,
        )
    if row is None:
        raise AuditError(f"no accepted reading {reading} in the evidence log (evidence_readings)")
    return row


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // _NS, UTC).replace(microsecond=(ns % _NS) // 1000).isoformat()


async def _hour(conn: asyncpg.Connection, process: str, start: datetime) -> tuple[asyncpg.Record, list[str]]:
    """The hourly window whose root the stored readings of that hour give, and those readings' hashes."""
    lo = int(start.timestamp()) * _NS
    leaves = [
        r[0].hex()
        for r in await conn.fetch(
            "SELECT reading_hash FROM evidence_readings"
            " WHERE process_id = $1 AND observed_ns >= $2 AND observed_ns < $3",
            process,
            lo,
            lo + 3600 * _NS,
        )
    ]
    root = merkle_root(leaves)
    windows = await conn.fetch(
        """SELECT window_id, revision, window_start, window_end, merkle_root FROM footprint_applied_windows
           WHERE process_id = $1 AND window_start = $2 AND window_end = $3 ORDER BY revision""",
        process,
        start,
        start + HOUR,
    )
    for w in windows:
        if w["merkle_root"] == root:
            return w, leaves
    seen = ", ".join(f"revision {w['revision']}: {w['merkle_root'][:12]}..." for w in windows) or "none received"
    raise AuditError(
        f"the {len(leaves)} readings logged for {process} in the hour from {start.isoformat()} give the root "
        f"{root[:12]}..., which no hourly window of that hour has ({seen}); intensity refused some of them "
        "(too late, for instance), so no inclusion path can be built"
    )


async def _version_windows(
    conn: asyncpg.Connection, process: str, hour: datetime, pf_id: uuid.UUID | None
) -> list[asyncpg.Record]:
    """Evidence links (with their windows) of `process` covering the hour: of the chosen version, or of
    every version, latest version and latest window first."""
    return list(
        await conn.fetch(
            """SELECT e.pf_id, e.window_id, e.revision, e.merkle_root, w.window_start, w.window_end, w.applied_at
               FROM epd_evidence e JOIN footprint_applied_windows w USING (window_id, revision)
               JOIN epd_versions v ON v.pf_id = e.pf_id
               WHERE w.process_id = $1 AND w.window_start <= $2 AND w.window_end >= $3
                 AND ($4::uuid IS NULL OR e.pf_id = $4)
               ORDER BY v.created_at DESC, v.pf_id, w.applied_at DESC LIMIT 100""",
            process,
            hour,
            hour + HOUR,
            pf_id,
        )
    )


async def _hour_roots(conn: asyncpg.Connection, process: str, link: asyncpg.Record) -> list[str] | None:
    """The hourly roots the version's window was built from: per hour, the latest revision applied no
    later than that window (else the latest), whichever set gives the window's root; None if neither.
    A version's window of one hour is that hour itself: its own root."""
    if link["window_end"] - link["window_start"] == HOUR:
        return [link["merkle_root"]]
    hours = await conn.fetch(
        """SELECT window_start, revision, merkle_root, applied_at FROM footprint_applied_windows
           WHERE process_id = $1 AND window_end - window_start = interval '1 hour'
             AND window_start >= $2 AND window_end <= $3 ORDER BY window_start, revision""",
        process,
        link["window_start"],
        link["window_end"],
    )
    for cutoff in (link["applied_at"], None):
        latest: dict[datetime, str] = {}
        for h in hours:
            if cutoff is None or h["applied_at"] <= cutoff:
                latest[h["window_start"]] = h["merkle_root"]
        if merkle_root(latest.values()) == link["merkle_root"]:
            return list(latest.values())
    return None


async def prove(
    conn: asyncpg.Connection, reading: str, programme: ProgrammeInfo, ring: KeyRing, pf_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """The inclusion proof of one reading (format epd-inclusion-proof/1, services/footprint/README.md)."""
    r = await find_reading(conn, reading)
    reading_hash = bytes(r["reading_hash"]).hex()
    ns = r["observed_ns"]
    start = datetime.fromtimestamp(ns // _NS - (ns // _NS) % 3600, UTC)
    hour, leaves = await _hour(conn, r["process_id"], start)
    candidates = await _version_windows(conn, r["process_id"], start, pf_id)
    for link in candidates:
        roots = await _hour_roots(conn, r["process_id"], link)
        if roots is not None and hour["merkle_root"] in roots:
            break
    else:
        which = f"version {pf_id}" if pf_id else "any version"
        raise AuditError(
            f"no evidence window of {which} was built from the hour of this reading "
            f"({len(candidates)} windows of {r['process_id']} cover it)"
        )
    links = await conn.fetch(
        "SELECT window_id, revision, merkle_root FROM epd_evidence WHERE pf_id = $1", link["pf_id"]
    )
    leaves_v = [evidence_leaf(e["window_id"], e["revision"], e["merkle_root"]) for e in links]
    fv = await footprint_version(conn, link["pf_id"])
    viewer = Viewer(accepts_provisional=fv.status == footprint_pb2.FOOTPRINT_STATUS_PROVISIONAL)
    record = signed_pact_record(fv, readmodel.party(fv, programme), viewer, ring).footprint
    return {
        "format": PROOF_FORMAT,
        "reading": {
            "hash": reading_hash,
            "process_id": r["process_id"],
            "plant_id": r["plant_id"],
            "meter_id": r["meter_id"],
            "observed_at": _iso(ns),
        },
        "hour": {
            "window_id": hour["window_id"],
            "revision": hour["revision"],
            "start": hour["window_start"].isoformat(),
            "end": hour["window_end"].isoformat(),
            "merkle_root": hour["merkle_root"],
            "leaf_count": len(set(leaves)),
            "path": merkle_path(leaves, reading_hash),
        },
        "window": {
            "window_id": link["window_id"],
            "revision": link["revision"],
            "start": link["window_start"].isoformat(),
            "end": link["window_end"].isoformat(),
            "merkle_root": link["merkle_root"],
            # the version's window is the hour itself: nothing between them
            **(
                {"leaf_count": 1, "path": []}
                if (link["window_id"], link["revision"]) == (hour["window_id"], hour["revision"])
                else {"leaf_count": len(set(roots)), "path": merkle_path(roots, hour["merkle_root"])}
            ),
        },
        "version": {
            "pf_id": str(link["pf_id"]),
            "evidence_root": evidence_root((e["window_id"], e["revision"], e["merkle_root"]) for e in links),
            "leaf_count": len(leaves_v),
            "path": merkle_path(leaves_v, evidence_leaf(link["window_id"], link["revision"], link["merkle_root"])),
        },
        "record": record,
    }
