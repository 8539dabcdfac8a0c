"""What a client may see, mapped and signed: recognition, the viewer's status, the record model's
signed PACT record (`epd_records.record`, the same record the publisher pushes), over the
repository. Every route goes through here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Counter

from epd.v1 import footprint_pb2
from epd_gateway.cursor import Position
from epd_gateway.query import Filters
from epd_gateway.record_cache import CachedRecord, SignedRecordCache, response_json
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
    version: footprint_pb2.FootprintVersion
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

    def _cached(self, row: Row, viewer: Viewer, kid: str) -> CachedRecord | None:
        return self.cache.get((str(row.view.pf_id), viewer.accepts_provisional, kid), row.digest)

    def _build(
        self, row: Row, version: footprint_pb2.FootprintVersion, viewer: Viewer, ring: KeyRing
    ) -> tuple[PartyInfo, CachedRecord] | None:
        """Map and sign; None (and a counted, logged skip) when it cannot be mapped."""
        try:
            party = readmodel.party(version, self.programme)
            signed = signed_pact_record(version, party, viewer, ring)
        except RecordError as exc:
            UNMAPPABLE.inc()
            log.warning("skipping unmappable record %s: %s", version.pf_id, exc)
            return None
        status = served_status(version, viewer)
        assert status is not None  # signed_pact_record refuses versions the viewer may not see
        entry = CachedRecord(
            row.digest,
            response_json(signed.footprint),
            signed.signature,
            status,
            frozenset(c.lower() for c in signed.footprint.get("productClassifications", [])),
        )
        self.cache.put((str(version.pf_id), viewer.accepts_provisional, ring.kid), entry)
        return party, entry

    async def get(self, agreement: RecognitionAgreement, pf_id: uuid.UUID, ring: KeyRing) -> Served | None:
        row = await self.repo.get(pf_id)
        if row is None or not recognises(agreement, row.view):
            return None
        viewer = viewer_of(agreement)
        version = (await self.repo.versions([row]))[pf_id]
        made = self._build(row, version, viewer, ring)
        return None if made is None else Served(version, made[0], viewer, made[1])

    async def _records(
        self, rows: Sequence[Row], agreement: RecognitionAgreement, ring: KeyRing
    ) -> list[tuple[Row, CachedRecord]]:
        """The signed records of the rows the agreement recognises, in row order: cached ones as
        they are, the others built with one results and one evidence query."""
        viewer = viewer_of(agreement)
        visible = [r for r in rows if recognises(agreement, r.view)]
        found = {r.view.pf_id: self._cached(r, viewer, ring.kid) for r in visible}
        misses = [r for r in visible if found[r.view.pf_id] is None]
        if misses:
            versions = await self.repo.versions(misses)
            for r in misses:
                made = self._build(r, versions[r.record["pf_id"]], viewer, ring)
                found[r.view.pf_id] = made[1] if made else None
        return [(r, entry) for r in visible if (entry := found[r.view.pf_id]) is not None]

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
        last, position, scanned = after, after, 0
        batch = min(max(limit + 1, 50), 1000)
        while scanned < max_scan:
            rows = await self.repo.page(filters, agreement, position, batch)
            scanned += len(rows)
            for row, entry in await self._records(rows, agreement, ring):
                if self._matches(entry, filters):
                    if len(out) == limit:
                        return Page(out, True, last)
                    out.append(entry)
                    last = row.position
            if rows:
                position = rows[-1].position
            if len(rows) < batch:
                return Page(out, False, None)
        return Page(out, True, position)
