"""Signed PACT records as stored bytes (table gateway_records, migration 0013): rendered and signed
once per (version, viewer variant, signing key), served as they are by every replica.

What a viewer sees of a version depends only on whether it accepts provisional versions, and the
signature on the key, so those three name a stored record. A record also shows rows the version
does not own (the owner's name and company ids, the product's name and classifications, the
plant's province, a provisional successor), and a version's status changes (supersession,
withdrawal, expiry: `epd_records.status.served_status` reads no clock, the footprint service moves
a version past its validity to `expired`, a status change like any other). So a stored record keeps
`inputs`, the MD5 of the text of the version's whole read-model row as it was rendered, and the
listing query serves it only while the row's digest is still that one and its kid is the current
key (INPUTS_SQL): anything else is rendered again and stored with INSERT ... ON CONFLICT (UPSERT).
Results and evidence never change for a version, so they are not part of the digest.

The body is the exact JSON the route sends (json.dumps as Starlette's JSONResponse writes it), so a
page is the concatenation of stored bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from epd.v1 import footprint_pb2
from epd_records import readmodel
from epd_records.recognition import PROGRAMME_STANDARDS
from epd_records.status import PactStatus

#: The read-model row of a version (`q`: VERSION_SELECT as a subquery) as one digest.
INPUTS_SQL = "md5(q::text)"
#: The stored record of each `q` row for one viewer variant ({p}) and key ({kid}), when still current.
#: (LATERAL: one primary-key probe per page row, whatever the table's statistics say.)
STORED_JOIN = (
    "LEFT JOIN LATERAL (SELECT g.inputs, g.body, g.status, g.classifications FROM gateway_records g "
    "WHERE g.pf_id = q.pf_id AND g.accepts_provisional = {p} AND g.kid = {kid} LIMIT 1) r ON true"
)
#: What a page row carries: its position, the facts recognition decides on, the stored record if fresh.
PAGE_COLUMNS = f"""q.pf_id, q.created_at, q.status, q.valid_from IS NOT NULL AS was_published,
    q.superseding_provisional_pf_id IS NOT NULL AS superseded, q.classifications, q.pcr_id, q.pcr_version,
    q.pcr_standards, CASE WHEN r.inputs = {INPUTS_SQL} THEN r.body END AS body, r.status AS served_status,
    r.classifications AS served_classifications"""
UPSERT = """
    INSERT INTO gateway_records AS g (pf_id, accepts_provisional, kid, inputs, status, classifications, body)
    SELECT r.pf_id, $1, $2, r.inputs, r.status, ARRAY(SELECT jsonb_array_elements_text(r.classes::jsonb)), r.body
    FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::bytea[]) AS r(pf_id, inputs, status, classes, body)
    ON CONFLICT (pf_id, accepts_provisional, kid) DO UPDATE
        SET inputs = excluded.inputs, status = excluded.status, classifications = excluded.classifications,
            body = excluded.body, rendered_at = now()
        WHERE g.inputs IS DISTINCT FROM excluded.inputs"""


def response_json(value: Any) -> bytes:
    """The bytes Starlette's JSONResponse renders for `value`."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    body: bytes  # the ProductFootprint with its signature extension, as response JSON
    status: PactStatus  # as the viewer sees it
    classifications: frozenset[str]  # lower-cased productClassifications URNs

    @property
    def footprint(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @classmethod
    def of(cls, footprint: dict[str, Any], status: PactStatus) -> StoredRecord:
        classes = frozenset(c.lower() for c in footprint.get("productClassifications", []))
        return cls(response_json(footprint), status, classes)


def upsert_args(accepts_provisional: bool, kid: str, rendered: list[tuple[Any, str, StoredRecord]]) -> tuple[Any, ...]:
    """UPSERT's arguments for (pf_id, inputs digest, record) triples."""
    return (
        accepts_provisional,
        kid,
        [pf for pf, _, _ in rendered],
        [inputs for _, inputs, _ in rendered],
        [r.status.value for _, _, r in rendered],
        [json.dumps(sorted(r.classifications)) for _, _, r in rendered],
        [r.body for _, _, r in rendered],
    )


def stored_record(row: readmodel.Row) -> StoredRecord | None:
    """The fresh stored record of a page row (PAGE_COLUMNS), or None when it must be rendered."""
    body = row["body"]
    if body is None:
        return None
    return StoredRecord(bytes(body), PactStatus(row["served_status"]), frozenset(row["served_classifications"]))


def recognition_view(row: readmodel.Row) -> footprint_pb2.FootprintVersion:
    """The part of a version `epd_records.recognition.recognises` reads, from a page row's facts:
    status, whether it was published, a provisional successor, classifications, PCR and standards."""
    fv = footprint_pb2.FootprintVersion(
        status=readmodel.STATUS_BY_NAME.get(row["status"], footprint_pb2.FOOTPRINT_STATUS_UNSPECIFIED),
        classifications=list(row["classifications"] or ()),
        pcr_id=row["pcr_id"],
        pcr_version=row["pcr_version"],
        superseding_provisional_pf_id="superseded" if row["superseded"] else "",
    )
    if row["was_published"]:
        fv.valid_from.SetInParent()
    standards = row["pcr_standards"]
    fv.standards.extend(standards if standards is not None else sorted(s.value for s in PROGRAMME_STANDARDS))
    return fv


def facts_key(row: readmodel.Row) -> tuple[Any, ...]:
    """Everything recognition_view reads: rows with equal keys get the same decision."""
    standards = row["pcr_standards"]
    return (
        row["status"],
        row["was_published"],
        row["superseded"],
        tuple(row["classifications"] or ()),
        row["pcr_id"],
        row["pcr_version"],
        None if standards is None else tuple(standards),
    )
