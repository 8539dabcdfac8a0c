"""The request one delivery sends: body, content type, Standard Webhooks signature headers (HMAC ``v1`` /
Ed25519 ``v1a``) and the programme's detached body signature (``x-epd-signature``, ``-kid``).

- A footprint change is rendered for the endpoint's format (epd_records.delivery: PACT PublishedEvent
  CloudEvent, or a Standard Webhooks payload carrying the record the gateway serves) as the partner
  sees it (provisional versions only for partners whose agreement accepts them).
- A gateway answer (``PACT_EVENT``) is the CloudEvent the gateway wrote, sent only to PACT endpoints.

Anything that makes the delivery impossible as stored raises PermanentDeliveryError (a PublisherError)
or an epd_records RecordError: the sender dead-letters it with the reason. Signatures use wall-clock
time, because the receiver checks them against its own clock.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

from google.protobuf.message import DecodeError

from epd.v1 import footprint_pb2
from epd_publisher.deliveries import PACT_EVENT, DueDelivery
from epd_publisher.delivery.webhooks import Ed25519Signer, HmacSigner, Signer, sign_request, webhook_id
from epd_publisher.errors import PublisherError
from epd_publisher.rendering import RecordRendering
from epd_records.delivery import CLOUDEVENTS_CONTENT_TYPE, render_for_endpoint
from epd_records.recognition import DeliveryFormat
from epd_records.status import Viewer


class PermanentDeliveryError(PublisherError):
    """A delivery that can never be made as stored (not the endpoint's fault): dead letter with the reason."""


def signers_for(signing: str, secret: str | None) -> list[Signer]:
    if signing == "hmac":
        return [HmacSigner(secret or "")]
    if signing == "ed25519":
        return [Ed25519Signer(secret or "")]
    return []


def _pact_answer(delivery: DueDelivery) -> tuple[bytes, str, str]:
    if delivery.format != DeliveryFormat.PACT.value:
        raise PermanentDeliveryError("PACT answers go only to PACT endpoints")
    try:
        is_object = isinstance(json.loads(delivery.payload), dict)
    except ValueError:
        is_object = False
    if not is_object:
        raise PermanentDeliveryError("the PACT answer is not a JSON object")
    return delivery.payload, delivery.event_id, CLOUDEVENTS_CONTENT_TYPE


async def _footprint_change(
    delivery: DueDelivery, rendering: RecordRendering, *, event_source: str, now: datetime
) -> tuple[bytes, str, str]:
    try:
        event = footprint_pb2.FootprintChanged.FromString(delivery.payload)
    except DecodeError:
        raise PermanentDeliveryError("the stored change is not a FootprintChanged message") from None
    renderers = await rendering.renderers(event.footprint, Viewer(accepts_provisional=delivery.accepts_provisional))
    rendered = render_for_endpoint(
        delivery.format,
        event.footprint,
        event_id=event.event_id,
        change_type=event.change_type,
        source=event_source,
        time=now,
        renderers=renderers,
        product_sequence=event.product_sequence,
    )
    return rendered.body, event.event_id, rendered.content_type


async def build_request(
    delivery: DueDelivery,
    rendering: RecordRendering,
    signing_secret: str | None,
    *,
    event_source: str,
    now: datetime,
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of the delivery's POST, before any OAuth2 bearer token."""
    if delivery.kind == PACT_EVENT:
        body, event_id, content_type = _pact_answer(delivery)
    else:
        body, event_id, content_type = await _footprint_change(delivery, rendering, event_source=event_source, now=now)
    signers = signers_for(delivery.signing, signing_secret)
    headers = {"content-type": content_type}
    if signers:
        signed = sign_request(
            webhook_id(delivery.partner_id, event_id),
            body,
            timestamp=int(time.time()),
            signers=signers,
            content_type=content_type,
        )
        headers = signed.headers
    signature, kid = await rendering.body_signature(body)
    return body, {**headers, "x-epd-signature": signature, "x-epd-signature-kid": kid}
