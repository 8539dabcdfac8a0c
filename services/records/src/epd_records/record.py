"""The signed PACT record: what a partner gets by webhook and what it pulls from the gateway.

Signature transport: the ProductFootprint carries one extra PACT Data Model Extension whose
`dataSchema` ends in `epd-signature/1.0.0/data-model.json` and whose `data.jws` is a detached JWS
(EdDSA, `b64: false`, `kid`) over the RFC 8785 canonical JSON of the ProductFootprint *without*
that extension. To verify: remove it, canonicalise, verify against the programme's JWKS (which
keeps every retired key). Ed25519 signatures are deterministic, so one version rendered for one
viewer with one key is the same bytes on every path.

Whole responses and webhook bodies carry a second, independent signature over their exact bytes
(`x-epd-signature`, see `epd_records.signing.sign_payload`); this module is about the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from epd.v1 import footprint_pb2
from epd_records.errors import SignatureError
from epd_records.pact import product_footprint
from epd_records.party import PartyInfo, ProgrammeInfo
from epd_records.signing import KeyRing, sign_record, verify_record
from epd_records.status import Viewer

SIGNATURE_EXTENSION = "epd-signature/1.0.0"
SIGNED_CONTENT = "RFC 8785 canonical JSON of this ProductFootprint without this extension"


def signature_schema(programme: ProgrammeInfo) -> str:
    return f"{programme.extension_base_url.rstrip('/')}/{SIGNATURE_EXTENSION}/data-model.json"


def _is_signature(extension: Any) -> bool:
    schema = extension.get("dataSchema") if isinstance(extension, Mapping) else None
    return isinstance(schema, str) and schema.endswith(f"/{SIGNATURE_EXTENSION}/data-model.json")


@dataclass(frozen=True)
class SignedRecord:
    footprint: dict[str, Any]  # the ProductFootprint with its signature extension
    signature: str  # the detached JWS of the extension
    kid: str


def signed_pact_record(
    fv: footprint_pb2.FootprintVersion, party: PartyInfo, viewer: Viewer, ring: KeyRing
) -> SignedRecord:
    """Map the version as `viewer` sees it and sign it; MappingError or SignatureError say why not."""
    pf = product_footprint(fv, party, viewer)
    signature = sign_record(pf, ring)
    schema = signature_schema(party.programme)
    extension = {
        "specVersion": "2.0.0",
        "dataSchema": schema,
        "documentation": schema.rsplit("/", 1)[0] + "/",
        "data": {"jws": signature, "kid": ring.kid, "alg": "EdDSA", "signedContent": SIGNED_CONTENT},
    }
    return SignedRecord({**pf, "extensions": [*pf.get("extensions", []), extension]}, signature, ring.kid)


def split_signature(record: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """(the record as signed, its JWS); SignatureError when it carries no signature extension."""
    kept, jws = [], None
    extensions = record.get("extensions") or []
    if not isinstance(extensions, list):
        raise SignatureError("the record's extensions are not a list")
    for ext in extensions:
        if _is_signature(ext):
            if jws is not None:
                raise SignatureError(f"the record carries more than one {SIGNATURE_EXTENSION} extension")
            data = ext.get("data")
            jws = data.get("jws") if isinstance(data, Mapping) else None
            if not isinstance(jws, str):
                raise SignatureError(f"the {SIGNATURE_EXTENSION} extension has no JWS")
        else:
            kept.append(ext)
    if jws is None:
        raise SignatureError(f"the record has no {SIGNATURE_EXTENSION} extension")
    return {**record, "extensions": kept}, jws


def verify_pact_record(record: Mapping[str, Any], jwks: Mapping[str, Any]) -> str:
    """Verify a record's embedded signature; returns the kid that signed, or raises SignatureError."""
    signed, jws = split_signature(record)
    return verify_record(signed, jws, jwks)
