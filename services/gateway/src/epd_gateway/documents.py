"""ILCD+EPD and openEPD documents as stored bytes (table gateway_documents, migration 0018), like the
PACT records of `stored`: rendered and signed once per (version, format, viewer variant, signing key),
served by every replica as they are, and only while the version's inputs stamp (gateway_inputs) is
the one they were rendered from and their key is the current one. The stored signature is the
detached JWS the response carries (`x-epd-signature`), so a read signs nothing either.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import asyncpg

from epd.v1 import footprint_pb2
from epd_records.ilcd import ilcd_epd_xml
from epd_records.openepd import openepd_document
from epd_records.party import PartyInfo
from epd_records.signing import KeyRing, sign_payload
from epd_records.status import Viewer

Format = Literal["ilcd", "openepd"]
FORMATS: tuple[Format, ...] = ("ilcd", "openepd")
OPENEPD_TYPE = "application/vnd.openepd+json"
MEDIA_TYPES: dict[Format, str] = {"ilcd": "application/xml", "openepd": OPENEPD_TYPE}

_CURRENT = """
    SELECT d.body, d.signature FROM gateway_documents d
    JOIN gateway_inputs i ON i.pf_id = d.pf_id AND i.stamp = d.stamp
    WHERE d.pf_id = $1 AND d.format = $2 AND d.accepts_provisional = $3 AND d.kid = $4"""
_UPSERT = """
    INSERT INTO gateway_documents AS d (pf_id, format, accepts_provisional, kid, stamp, body, signature)
    SELECT r.pf_id, r.format, $1, $2, r.stamp, r.body, r.signature
    FROM unnest($3::uuid[], $4::text[], $5::int8[], $6::bytea[], $7::text[])
        AS r(pf_id, format, stamp, body, signature)
    ON CONFLICT (pf_id, format, accepts_provisional, kid) DO UPDATE
        SET stamp = excluded.stamp, body = excluded.body, signature = excluded.signature, rendered_at = now()
        WHERE d.stamp IS DISTINCT FROM excluded.stamp"""


@dataclass(frozen=True, slots=True)
class Document:
    format: Format
    body: bytes  # the exact response body
    signature: str  # detached JWS (EdDSA, b64:false) over `body`

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def render(
    kind: Format, version: footprint_pb2.FootprintVersion, party: PartyInfo, viewer: Viewer, ring: KeyRing
) -> Document:
    """Render and sign one document; MappingError when the version cannot be expressed in `kind`."""
    if kind == "ilcd":
        body = ilcd_epd_xml(version, party, viewer)
    else:
        document = openepd_document(version, party, viewer)
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Document(kind, body, sign_payload(body, ring))


class StoredDocuments:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def current(self, pf_id: uuid.UUID, kind: Format, viewer: Viewer, kid: str) -> Document | None:
        """The stored document, when it was rendered from the version's current inputs under `kid`."""
        row = await self.pool.fetchrow(_CURRENT, pf_id, kind, viewer.accepts_provisional, kid)
        return None if row is None else Document(kind, row["body"], row["signature"])

    async def store(self, viewer: Viewer, kid: str, rendered: Sequence[tuple[uuid.UUID, int, Document]]) -> None:
        """Store (pf_id, inputs stamp, document) triples; the same inputs are the same bytes, whoever
        rendered them, so a replica that stores second changes nothing."""
        if not rendered:
            return
        await self.pool.execute(
            _UPSERT,
            viewer.accepts_provisional,
            kid,
            [pf for pf, _, _ in rendered],
            [d.format for _, _, d in rendered],
            [stamp for _, stamp, _ in rendered],
            [d.body for _, _, d in rendered],
            [d.signature for _, _, d in rendered],
        )

    async def missing(self, pf_ids: Sequence[uuid.UUID], viewer: Viewer, kid: str) -> list[uuid.UUID]:
        """Those of `pf_ids` lacking a current document in some format (unmappable ones included)."""
        rows = await self.pool.fetch(
            """SELECT x.pf_id FROM unnest($1::uuid[]) AS x(pf_id) WHERE (
                   SELECT count(*) FROM gateway_documents d
                   JOIN gateway_inputs i ON i.pf_id = d.pf_id AND i.stamp = d.stamp
                   WHERE d.pf_id = x.pf_id AND d.accepts_provisional = $2 AND d.kid = $3) < $4""",
            list(pf_ids),
            viewer.accepts_provisional,
            kid,
            len(FORMATS),
        )
        return [r["pf_id"] for r in rows]

    async def drop_retired(self, kid: str) -> int:
        """Delete documents signed by any key but `kid` (after a rotation); returns how many."""
        status = await self.pool.execute("DELETE FROM gateway_documents WHERE kid <> $1", kid)
        return int(status.split()[-1])
