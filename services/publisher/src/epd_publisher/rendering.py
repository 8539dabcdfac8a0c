"""What the publisher sends a partner for one footprint version: the record model's records, made
from the change event's version alone (the read model put the owner, status and successor in it),
as the partner sees them, signed with the programme's record-signing keys. The gateway serves
the same version to the same partner as the same bytes (epd_records.record).
"""

from __future__ import annotations

from typing import Protocol

from epd.v1 import footprint_pb2
from epd_common.settings import ProgrammeSettings
from epd_common.signing_keys import StoredKeys
from epd_records import readmodel
from epd_records.delivery import Renderer
from epd_records.openepd import openepd_document
from epd_records.party import ProgrammeInfo
from epd_records.recognition import DeliveryFormat
from epd_records.record import signed_pact_record
from epd_records.signing import KeyRing, sign_payload
from epd_records.status import Viewer


def programme_info(settings: ProgrammeSettings) -> ProgrammeInfo:
    return ProgrammeInfo(operator_name=settings.programme_operator, extension_base_url=settings.extension_base_url)


def key_ring(stored: StoredKeys) -> KeyRing:
    return KeyRing.from_stored(stored.private_jwk, stored.retired_public_jwks, stored.retired_since())


class KeySource(Protocol):
    async def get(self) -> KeyRing: ...


class RecordRendering(Protocol):
    """Renderers for one version as one viewer sees it, and the body signature of what is sent."""

    async def renderers(self, fv: footprint_pb2.FootprintVersion, viewer: Viewer) -> dict[DeliveryFormat, Renderer]: ...

    async def body_signature(self, body: bytes) -> tuple[str, str]: ...


class SignedRecords:
    """RecordRendering with the programme's settings and its key ring (reloaded by `keys`)."""

    def __init__(self, programme: ProgrammeInfo, keys: KeySource) -> None:
        self.programme, self.keys = programme, keys

    async def renderers(self, fv: footprint_pb2.FootprintVersion, viewer: Viewer) -> dict[DeliveryFormat, Renderer]:
        ring = await self.keys.get()
        party = readmodel.party(fv, self.programme)  # MappingError when the owner cannot be named
        return {
            DeliveryFormat.WEBHOOK_PACT: lambda v: signed_pact_record(v, party, viewer, ring).footprint,
            DeliveryFormat.WEBHOOK_OPENEPD: lambda v: openepd_document(v, party, viewer),
        }

    async def body_signature(self, body: bytes) -> tuple[str, str]:
        """(detached JWS over the exact body, kid): the gateway's `x-epd-signature` rule."""
        ring = await self.keys.get()
        return sign_payload(body, ring), ring.kid
