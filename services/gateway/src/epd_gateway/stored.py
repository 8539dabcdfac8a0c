"""Signed PACT records as stored bytes (table gateway_records, migration 0013): rendered and signed
once per (version, viewer variant, signing key), served as they are by every replica.

What a viewer sees of a version depends only on whether it accepts provisional versions, and the
signature on the key, so those three name a stored record. A record also shows rows the version
does not own (the owner's name and company ids, the product's name and classifications, the
plant's province, a provisional successor), and a version's status changes (supersession,
withdrawal, expiry: `epd_records.status.served_status` reads no clock, the footprint service moves
a version past its validity to `expired`, a status change like any other). The database keeps
track (migration 0015): triggers on every read-model table give each affected version a new stamp
(gateway_inputs) in the changing transaction; a record keeps the stamp read in the same statement
as the inputs it was rendered from, and the listing query serves it only while that is still the
version's stamp and its kid is the current key (STORED_JOIN): one primary-key probe each, no digest
of the row on a read. The listing walks gateway_inputs itself (migration 0019: the stamp sits beside
the version's recognition facts), so a page reads that table and probes this one. Anything else is
rendered again and stored with INSERT ... ON CONFLICT (UPSERT).
Results and evidence never change for a version, so they are not part of the inputs.

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

#: The stamp of the inputs of each `q` row (gateway_inputs, migration 0015), read with the row.
STAMP_SQL = "(SELECT i.stamp FROM gateway_inputs i WHERE i.pf_id = q.pf_id)"
#: The stored record of each `q` row for one viewer variant ({p}) and key ({kid}), when rendered from the
#: row's stamp. (LATERAL: one primary-key probe per page row, whatever the table's statistics say.)
STORED_JOIN = (
    "LEFT JOIN LATERAL (SELECT g.body, g.status, g.classifications FROM gateway_records g "
    "WHERE g.pf_id = q.pf_id AND g.accepts_provisional = {p} AND g.kid = {kid} AND g.stamp = q.stamp) r ON true"
)
#: Page rows come from gateway_inputs (migration 0019): each version's stamp and the facts recognition and the
#: status rule decide on, kept by the database in the transaction that changes them. Alias `f`; the read model
#: is joined to it only for the filters that need its other columns (READ_MODEL_JOIN).
FACTS_FROM = "FROM gateway_inputs f"
READ_MODEL_JOIN = readmodel.VERSION_FROM.replace("FROM epd_versions v", "JOIN epd_versions v ON v.pf_id = f.pf_id", 1)
#: What a page row carries: its position, the facts recognition decides on, the stored record if current.
PAGE_COLUMNS = """q.pf_id, q.created_at, q.status, q.was_published, q.superseded, q.classifications, q.pcr_id,
    q.pcr_version, q.pcr_standards, r.body, r.status AS served_status, r.classifications AS served_classifications"""
UPSERT = """
    INSERT INTO gateway_records AS g (pf_id, accepts_provisional, kid, stamp, status, classifications, body)
    SELECT r.pf_id, $1, $2, r.stamp, r.status, ARRAY(SELECT jsonb_array_elements_text(r.classes::jsonb)), r.body
    FROM unnest($3::uuid[], $4::int8[], $5::text[], $6::text[], $7::bytea[]) AS r(pf_id, stamp, status, classes, body)
    ON CONFLICT (pf_id, accepts_provisional, kid) DO UPDATE
        SET stamp = excluded.stamp, status = excluded.status, classifications = excluded.classifications,
            body = excluded.body, rendered_at = now()
        WHERE g.stamp IS DISTINCT FROM excluded.stamp"""


_STATUSES = {status.value: status for status in PactStatus}  # a dict look-up per row, not an Enum call


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


def upsert_args(accepts_provisional: bool, kid: str, rendered: list[tuple[Any, int, StoredRecord]]) -> tuple[Any, ...]:
    """UPSERT's arguments for (pf_id, inputs stamp, record) triples."""
    return (
        accepts_provisional,
        kid,
        [pf for pf, _, _ in rendered],
        [stamp for _, stamp, _ in rendered],
        [r.status.value for _, _, r in rendered],
        [json.dumps(sorted(r.classifications)) for _, _, r in rendered],
        [r.body for _, _, r in rendered],
    )


def stored_record(row: readmodel.Row) -> StoredRecord | None:
    """The fresh stored record of a page row (PAGE_COLUMNS), or None when it must be rendered."""
    body = row["body"]
    if body is None:
        return None
    return StoredRecord(body, _STATUSES[row["served_status"]], frozenset(row["served_classifications"]))


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
