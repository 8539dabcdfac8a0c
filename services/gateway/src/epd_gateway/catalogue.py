"""What a client may see, mapped and signed: recognition, the viewer's status, the record model's
signed PACT record (`epd_records.record`, the same record the publisher pushes), served from the
stored bytes (`stored`) and rendered, signed and stored once when there are none that are current.
Every route goes through here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from prometheus_client import Counter

from epd.v1 import footprint_pb2
from epd_gateway.cursor import Position
from epd_gateway.query import Filters
from epd_gateway.repository import Repository
from epd_gateway.stored import StoredRecord, facts_key, recognition_view, stored_record
from epd_records import readmodel
from epd_records.errors import RecordError
from epd_records.party import PartyInfo, ProgrammeInfo
from epd_records.recognition import RecognitionAgreement, recognises, viewer_of
from epd_records.record import signed_pact_record
from epd_records.signing import KeyRing
from epd_records.status import Viewer, served_status

log = logging.getLogger(__name__)
UNMAPPABLE = Counter("epd_gateway_unmappable_records_total", "Records skipped because they cannot be mapped")
RECORDS = Counter("epd_gateway_records_total", "Records a page or a read needed, by where they came from", ["source"])
_STORED, _RENDERED = RECORDS.labels("stored"), RECORDS.labels("rendered")


@dataclass(frozen=True)
class Served:
    version: footprint_pb2.FootprintVersion
    party: PartyInfo
    viewer: Viewer
    record: StoredRecord


@dataclass(frozen=True)
class Page:
    records: list[StoredRecord]
    more: bool  # visible records remain after this page
    position: Position | None  # where the next page starts (None: from the beginning of the walk)


class _Recognition:
    """`recognises` over page rows, decided once per distinct set of facts (for one request)."""

    def __init__(self, agreement: RecognitionAgreement) -> None:
        self.agreement, self._decided = agreement, dict[tuple[object, ...], bool]()

    def __call__(self, row: asyncpg.Record) -> bool:
        key = facts_key(row)
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decided[key] = bool(recognises(self.agreement, recognition_view(row)))
        return decided


class Catalogue:
    def __init__(self, repository: Repository, programme: ProgrammeInfo) -> None:
        self.repo, self.programme = repository, programme

    def _sign(self, version: footprint_pb2.FootprintVersion, viewer: Viewer, ring: KeyRing) -> StoredRecord | None:
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
        return StoredRecord.of(signed.footprint, status)

    async def render(
        self, pf_ids: Sequence[uuid.UUID], viewer: Viewer, ring: KeyRing
    ) -> dict[uuid.UUID, tuple[footprint_pb2.FootprintVersion, StoredRecord | None]]:
        """Render, sign and store the records of these versions as they are now."""
        out, rendered = {}, []
        for pf_id, stamp, version in await self.repo.versions(pf_ids):
            record = self._sign(version, viewer, ring) if served_status(version, viewer) else None
            out[pf_id] = (version, record)
            if record is not None and stamp is not None:  # no stamp: not stored, rendered again next time
                rendered.append((pf_id, stamp, record))
        await self.repo.store(viewer, ring.kid, rendered)
        _RENDERED.inc(len(rendered))
        return out

    async def get(self, agreement: RecognitionAgreement, pf_id: uuid.UUID, ring: KeyRing) -> Served | None:
        viewer = viewer_of(agreement)
        row = await self.repo.get(pf_id, viewer, ring.kid)
        if row is None or not _Recognition(agreement)(row):
            return None
        record = stored_record(row)
        if record is None:
            version, record = (await self.render([pf_id], viewer, ring)).get(pf_id, (None, None))
        else:
            _STORED.inc()
            found = await self.repo.versions([pf_id])
            version = found[0][2] if found else None
        if version is None or record is None:
            return None
        try:
            party = readmodel.party(version, self.programme)
        except RecordError:
            return None
        return Served(version, party, viewer, record)

    async def _records(
        self, rows: Sequence[asyncpg.Record], recognised: _Recognition, viewer: Viewer, ring: KeyRing
    ) -> list[tuple[asyncpg.Record, StoredRecord]]:
        """The signed records of the rows the agreement recognises, in row order: stored ones as they
        are, the others rendered, signed and stored (one read-model, results and evidence query)."""
        out: list[tuple[asyncpg.Record, StoredRecord | None]] = []
        misses = []
        for row in rows:  # one pass: a page is a hundred rows, and every step here is per row
            if recognised(row):
                record = stored_record(row)
                if record is None:
                    misses.append(row["pf_id"])
                out.append((row, record))
        _STORED.inc(len(out) - len(misses))
        if misses:
            rendered = await self.render(misses, viewer, ring)
            out = [(row, record or rendered.get(row["pf_id"], (None, None))[1]) for row, record in out]
        return [(row, record) for row, record in out if record is not None]

    def _matches(self, entry: StoredRecord, filters: Filters) -> bool:
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
        out: list[StoredRecord] = []
        if filters.matches_nothing:
            return Page(out, False, None)
        viewer, recognised = viewer_of(agreement), _Recognition(agreement)
        last: asyncpg.Record | None = None  # the row of the last record taken (its position, when needed)
        position, scanned = after, 0
        batch = min(max(limit + 1, 50), 1000)
        narrowed = filters.classifications is not None or filters.statuses is not None
        while scanned < max_scan:
            rows = await self.repo.page(filters, agreement, position, batch, viewer, ring.kid)
            scanned += len(rows)
            for row, entry in await self._records(rows, recognised, viewer, ring):
                if not narrowed or self._matches(entry, filters):
                    if len(out) == limit:
                        return Page(out, True, _position(last) if last is not None else after)
                    out.append(entry)
                    last = row
            if rows:
                position = _position(rows[-1])
            if len(rows) < batch:
                return Page(out, False, None)
        return Page(out, True, position)

    async def materialise(self, viewer: Viewer, ring: KeyRing, batch: int = 500) -> int:
        """Render and store every record this viewer variant may see that has no current stored
        record (a fresh registry, a key rotation); returns how many were rendered."""
        position, count = None, 0
        while True:
            rows = await self.repo.page(Filters(), None, position, batch, viewer, ring.kid)
            misses = [r["pf_id"] for r in rows if r["body"] is None]
            if misses:
                count += sum(1 for _, record in (await self.render(misses, viewer, ring)).values() if record)
            if len(rows) < batch:
                return count
            position = _position(rows[-1])


def _position(row: asyncpg.Record) -> Position:
    return Position(row["created_at"], str(row["pf_id"]))
