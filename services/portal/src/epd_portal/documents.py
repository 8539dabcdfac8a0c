"""Signed downloads: the documents the gateway serves, as the public sees them (`epd_records.status.PUBLIC`,
the terms of a partner that does not accept provisional versions), byte for byte.

- PACT v3 JSON: `{"data": <ProductFootprint>}`; the record carries its own signature extension
  (`epd_records.record.signed_pact_record`).
- ILCD+EPD v1.2 XML and openEPD JSON, rendered by the record model.
- Every body is signed as the gateway signs responses: a detached JWS (EdDSA, `b64: false`) over the
  exact bytes, with the programme's current record-signing key (`epd_common.signing_keys`). The portal
  serves it as the `x-epd-signature` header and as a `.jws` file beside the document, so
  `epd verify FILE --jwks URL --body-signature "$(cat FILE.jws)"` checks both signatures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from epd_portal.repository import Version
from epd_records import readmodel
from epd_records.ilcd import ilcd_epd_xml
from epd_records.openepd import openepd_document
from epd_records.party import ProgrammeInfo
from epd_records.record import signed_pact_record
from epd_records.signing import KeyRing, sign_payload
from epd_records.status import PUBLIC

FORMATS = {
    "pact": ("application/json", "pact.json"),
    "ilcd": ("application/xml", "ilcd.xml"),
    "openepd": ("application/vnd.openepd+json", "openepd.json"),
}


@dataclass(frozen=True)
class Document:
    body: bytes
    media_type: str
    filename: str
    signature: str
    kid: str


def _json(value: object) -> bytes:
    """The bytes the gateway writes (Starlette's JSONResponse settings)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def document(version: Version, fmt: str, programme: ProgrammeInfo, ring: KeyRing, product_id: str) -> Document:
    """One version in one format, signed; MappingError when the version cannot be expressed in it."""
    fv = version.fv
    party = readmodel.party(fv, programme)
    if fmt == "pact":
        record = signed_pact_record(fv, party, PUBLIC, ring)
        body = b'{"data":' + _json(record.footprint) + b"}"
    elif fmt == "ilcd":
        body = ilcd_epd_xml(fv, party, PUBLIC)
    elif fmt == "openepd":
        body = json.dumps(openepd_document(fv, party, PUBLIC), ensure_ascii=False, separators=(",", ":")).encode()
    else:
        raise ValueError(f"unknown format {fmt!r}")
    media, suffix = FORMATS[fmt]
    return Document(body, media, f"{product_id}-v{fv.version}.{suffix}", sign_payload(body, ring), ring.kid)
