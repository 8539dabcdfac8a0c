"""What a client may see, mapped and signed: the per-object recognition check, the format mappings
and the record signature, over the repository. Every route goes through here.

Signature transport: each served ProductFootprint carries one extra PACT Data Model Extension whose
`dataSchema` is SIGNATURE_SCHEMA and whose `data` holds the detached JWS (`jws`) and its `kid`. The
JWS signs the RFC 8785 canonical JSON of the ProductFootprint *without* that extension. Single
records (GET /3/footprints/{id}) also carry the JWS in the `x-epd-signature` response header; for
ILCD+EPD XML it signs the exact response bytes, for openEPD the canonical JSON of the document.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from epd_gateway.cursor import Position
from epd_gateway.formats.pact import product_footprint
from epd_gateway.formats.party import MappingError, PartyInfo, ProductInfo, ProgrammeInfo
from epd_gateway.query import Filters
from epd_gateway.record_cache import SignedRecord, SignedRecordCache, inputs_digest, response_json
from epd_gateway.repository import Repository, Row, organisation, position, recognisable, to_version
from epd_gateway.signing import KeyRing, canonical_json, sign_payload, sign_record
from epd_publisher.delivery.recognition import RecognitionAgreement, recognises

log = logging.getLogger(__name__)
SIGNATURE_EXTENSION = "epd-signature/1.0.0"
UNMAPPABLE = Counter("epd_gateway_unmappable_records_total", "Records skipped because they cannot be mapped")


def signature_schema(programme: ProgrammeInfo) -> str:
    return f"{programme.extension_base_url.rstrip('/')}/{SIGNATURE_EXTENSION}/data-model.json"


def unsigned(pf: dict[str, Any], programme: ProgrammeInfo) -> dict[str, Any]:
    """The record as signed: without the signature extension (what a verifier canonicalises)."""
    schema = signature_schema(programme)
    out = dict(pf)
    out["extensions"] = [e for e in pf.get("extensions", []) if e.get("dataSchema") != schema]
    return out


@dataclass(frozen=True)
class Served:
    row: Row
    party: PartyInfo
    footprint: dict[str, Any]  # PACT ProductFootprint with the signature extension
    signature: str


class Catalogue:
    def __init__(
        self, repository: Repository, programme: ProgrammeInfo, cache: SignedRecordCache | None = None
    ) -> None:
        self.repo, self.programme = repository, programme
        self.cache = cache if cache is not None else SignedRecordCache(10_000)

    def visible(self, agreement: RecognitionAgreement, row: Row) -> bool:
        return row.organisation is not None and bool(recognises(agreement, row.version))

    def serve(self, row: Row, ring: KeyRing) -> Served | None:
        """Map and sign; None (and a counted, logged skip) when the record cannot be mapped."""
        assert row.organisation is not None
        party = PartyInfo(row.organisation, self.programme, ProductInfo())
        try:
            pf = product_footprint(row.version, party)
            signature = sign_record(pf, ring)
        except (MappingError, ValueError) as exc:
            UNMAPPABLE.inc()
            log.warning("skipping unmappable record %s: %s", row.version.pf_id, exc)
            return None
        ext = {
            "specVersion": "2.0.0",
            "dataSchema": signature_schema(self.programme),
            "documentation": signature_schema(self.programme).rsplit("/", 1)[0] + "/",
            "data": {
                "jws": signature,
                "kid": ring.kid,
                "alg": "EdDSA",
                "signedContent": "RFC 8785 canonical JSON of this ProductFootprint without this extension",
            },
        }
        return Served(row, party, {**pf, "extensions": [*pf.get("extensions", []), ext]}, signature)

    async def get(self, agreement: RecognitionAgreement, pf_id: uuid.UUID, ring: KeyRing) -> Served | None:
        row = await self.repo.get(pf_id)
        if row is None or row.version.status == 0 or not self.visible(agreement, row):
            return None
        return self.serve(row, ring)

    def _build(self, record: Any, results: Sequence[Any], digest: bytes, ring: KeyRing) -> SignedRecord | None:
        org = organisation(record)
        if org is None:
            return None
        served = self.serve(Row(to_version(record, results), org, position(record)), ring)
        if served is None:
            return None
        entry = SignedRecord(
            digest,
            response_json(served.footprint),
            served.signature,
            frozenset(c.lower() for c in served.footprint.get("productClassifications", [])),
        )
        self.cache.put(str(record["pf_id"]), record["status"], ring.kid, entry)
        return entry

    async def _signed(self, rows: Sequence[Any], ring: KeyRing) -> dict[uuid.UUID, SignedRecord | None]:
        """Signed records of `rows` (None where unmappable): cached ones as they are, the others built
        with one results query."""
        out: dict[uuid.UUID, SignedRecord | None] = {}
        misses: list[tuple[Any, bytes]] = []
        for r in rows:
            digest = inputs_digest(r.values())
            out[r["pf_id"]] = hit = self.cache.get(str(r["pf_id"]), r["status"], ring.kid, digest)
            if hit is None:
                misses.append((r, digest))
        if misses:
            results = await self.repo.results([r["pf_id"] for r, _ in misses])
            for r, digest in misses:
                out[r["pf_id"]] = self._build(r, results[r["pf_id"]], digest, ring)
        return out

    async def list(
        self,
        agreement: RecognitionAgreement,
        filters: Filters,
        after: Position | None,
        limit: int,
        ring: KeyRing,
        max_scan: int,
    ) -> tuple[list[SignedRecord], Position | None]:
        """Up to `limit` visible records after `after`, and the position to continue from (None: the end).

        SQL narrows the rows by the filters and by a superset of the agreement; every row is still
        checked here with `recognises` and the mapped classifications. Records come from the signed-
        record cache; one results query per batch builds the misses. Scans at most `max_scan` rows
        per call; when the scan stops early the continuation position is the last row examined, so a
        later page resumes there (PACT allows pages shorter than `limit`).
        """
        out: list[SignedRecord] = []
        last: Position | None = None
        position_, scanned = after, 0
        batch = min(max(limit + 1, 50), 1000)
        classes = set(filters.classifications)
        while scanned < max_scan:
            rows = await self.repo.page_records(filters, agreement, position_, batch)
            signed = await self._signed([r for r in rows if recognises(agreement, recognisable(r))], ring)
            for row in rows:
                scanned += 1
                entry = signed.get(row["pf_id"])
                if entry is not None and (not classes or classes & entry.classifications):
                    if len(out) == limit:
                        return out, last
                    out.append(entry)
                    last = position(row)
                position_ = position(row)
            if len(rows) < batch:
                return out, None
        return out, position_


def sign_document(payload: bytes, ring: KeyRing) -> str:
    return sign_payload(payload, ring)


def sign_json_document(document: dict[str, Any], ring: KeyRing) -> tuple[bytes, str]:
    body = canonical_json(document)
    return body, sign_payload(body, ring)
