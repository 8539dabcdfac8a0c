"""What a client may see, mapped and signed: recognition, the viewer's status, the record model's
signed PACT record (`epd_records.record`, the same record the publisher pushes), over the
repository. Every route goes through here.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from prometheus_client import Counter

from epd_gateway.cursor import Position
from epd_gateway.query import Filters
from epd_gateway.record_cache import CachedRecord, SignedRecordCache, inputs_digest, response_json
from epd_gateway.repository import Repository, Row
from epd_records import readmodel
from epd_records.errors import RecordError
from epd_records.party import PartyInfo, ProgrammeInfo
from epd_records.recognition import RecognitionAgreement, recognises, viewer_of
from epd_records.record import signed_pact_record
from epd_records.signing import KeyRing
from epd_records.status import Viewer, served_status

log = logging.getLogger(__name__)
UNMAPPABLE = Counter("epd_gateway_unmappable_records_total", "Records skipped because they cannot be mapped")


@dataclass(frozen=True)
class Served:
    row: Row
    party: PartyInfo
    viewer: Viewer
    record: CachedRecord


@dataclass(frozen=True)
class Page:
    records: list[CachedRecord]
    more: bool  # visible records remain after this page
    position: Position | None  # where the next page starts (None: from the beginning of the walk)


class Catalogue:
    def __init__(
        self, repository: Repository, programme: ProgrammeInfo, cache: SignedRecordCache | None = None
    ) -> None:
        self.repo, self.programme = repository, programme
        self.cache = cache if cache is not None else SignedRecordCache(10_000)

    def _record(self, row: Row, viewer: Viewer, ring: KeyRing) -> tuple[PartyInfo, CachedRecord] | None:
        """Map and sign (or take from the cache); None (and a counted, logged skip) when it cannot be mapped."""
        key = (str(row.version.pf_id), viewer.accepts_provisional, ring.kid)
        digest = inputs_digest(row.digest_inputs)
        try:
            party = readmodel.party(row.version, self.programme)
            cached = self.cache.get(key, digest)
            if cached is not None:
                return party, cached
            signed = signed_pact_record(row.version, party, viewer, ring)
        except RecordError as exc:
            UNMAPPABLE.inc()
            log.warning("skipping unmappable record %s: %s", row.version.pf_id, exc)
            return None
        status = served_status(row.version, viewer)
        assert status is not None  # signed_pact_record refuses versions the viewer may not see
        entry = CachedRecord(
            digest,
            response_json(signed.footprint),
            signed.signature,
            status,
            frozenset(c.lower() for c in signed.footprint.get("productClassifications", [])),
        )
        self.cache.put(key, entry)
        return party, entry

    async def get(self, agreement: RecognitionAgreement, pf_id: uuid.UUID, ring: KeyRing) -> Served | None:
        row = await self.repo.get(pf_id)
        if row is None or not recognises(agreement, row.version):
            return None
        viewer = viewer_of(agreement)
        made = self._record(row, viewer, ring)
        return None if made is None else Served(row, made[0], viewer, made[1])

    def _matches(self, entry: CachedRecord, filters: Filters) -> bool:
        if filters.classifications is not None and not set(filters.classifications) & entry.classifications:
            return False
        return filters.statuses is None or entry.status in filters.statuses

    async def list(
        self,
        agreement: RecognitionAgreement,
        filters: Filters,
        after: Position | None,
        limit: int,
        ring: KeyRing,
        max_scan: int,
    ) -> Page:
        """Up to `limit` visible records after `after`, and whether more remain (with where they start).

        SQL narrows the rows by the filters and by a superset of the agreement; every row is still
        checked here with `recognises` and the mapped record. Scans at most `max_scan` rows per
        call; when the scan stops early the continuation is the last row examined, so a later page
        resumes there (PACT allows pages shorter than `limit`). `limit` 0 answers whether any
        visible record remains, without one.
        """
        out: list[CachedRecord] = []
        if filters.matches_nothing:
            return Page(out, False, None)
        viewer = viewer_of(agreement)
        last, position, scanned = after, after, 0
        batch = min(max(limit + 1, 50), 1000)
        while scanned < max_scan:
            rows = await self.repo.page(filters, agreement, position, batch)
            for row in rows:
                scanned += 1
                made = self._record(row, viewer, ring) if recognises(agreement, row.version) else None
                if made is not None and self._matches(made[1], filters):
                    if len(out) == limit:
                        return Page(out, True, last)
                    out.append(made[1])
                    last = row.position
                position = row.position
            if len(rows) < batch:
                return Page(out, False, None)
        return Page(out, True, position)
