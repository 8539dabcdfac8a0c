"""Rendering one footprint change for a partner endpoint, as the exact bytes to sign and send.

- ``pact``: a PACT v3 ``PublishedEvent`` CloudEvent. Per PACT v3.0.3 (openapi-v3.0.3.yaml,
  components.schemas.PublishedEvent) its ``data`` is ``{"pfIds": [...]}`` (the ids only); the
  partner fetches the ProductFootprint itself through the gateway's GetFootprint action.
- ``webhook-pact`` / ``webhook-openepd``: a Standard Webhooks payload ``{type, timestamp, data}``
  whose ``data`` is the full record: for PACT the signed record the gateway serves for the same
  version and partner (``epd_records.record``), for openEPD the document it serves.
  The records come from ``Renderer`` callables the caller builds with its key ring and the
  partner's viewpoint.

Bodies are RFC 8785 canonical JSON: the same event renders to the same bytes on every retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785

from epd.v1 import footprint_pb2
from epd_records import events
from epd_records import values as v
from epd_records.errors import EventError, RecordError, RenderError
from epd_records.recognition import DeliveryFormat

CLOUDEVENTS_CONTENT_TYPE = events.CONTENT_TYPE
JSON_CONTENT_TYPE = "application/json"

#: Maps one footprint version (``epd.v1.FootprintVersion``) to a JSON-ready record with decimals
#: as strings, e.g. ``lambda fv: signed_pact_record(fv, party, viewer, ring).footprint``.
Renderer = Callable[[footprint_pb2.FootprintVersion], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class RenderedBody:
    content_type: str
    body: bytes


def pact_pf_id(pf_id: object) -> str:
    """``urn:uuid:...`` or a bare UUID -> the lower-case UUID PACT expects (``format: uuid``)."""
    if not isinstance(pf_id, str) or len(pf_id) > 64:
        raise RenderError(f"pfId {str(pf_id)[:80]!r} is not a UUID")
    text = pf_id.strip().lower().removeprefix("urn:uuid:")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise RenderError(f"pfId {pf_id[:80]!r} is not a UUID") from None


def _canonical(document: Mapping[str, Any]) -> bytes:
    try:
        return rfc8785.dumps(document)
    except Exception as exc:  # rfc8785 raises several types (floats out of range, bad keys, ...)
        raise RenderError(f"record is not canonicalisable JSON: {exc}") from None


def pact_published_event(pf_ids: Iterable[str], *, event_id: str, source: str, time: datetime) -> dict[str, Any]:
    """The PACT v3 PublishedEvent CloudEvent announcing ``pf_ids`` (epd_records.events builds it)."""
    ids = [pact_pf_id(p) for p in pf_ids]
    if not isinstance(time, datetime):
        raise RenderError("event time must be a timezone-aware datetime")
    try:
        return events.published_event(ids, event_id=event_id, source=source, time=time)
    except EventError as exc:
        raise RenderError(f"PublishedEvent cannot be built: {exc}") from None


def webhook_event_type(change_type: object) -> str:
    """``FOOTPRINT_CHANGE_TYPE_PUBLISHED`` / 3 -> ``footprint.published`` (Standard Webhooks style)."""
    name = change_type
    if isinstance(change_type, int) and not isinstance(change_type, bool):
        try:
            name = footprint_pb2.FootprintChangeType.Name(change_type)
        except ValueError:
            raise RenderError(f"unknown change type {change_type}") from None
    if not isinstance(name, str):
        raise RenderError(f"unknown change type {change_type!r}")
    short = name.strip().lower().removeprefix("footprint_change_type_")
    if short in ("", "unspecified") or not short.replace("_", "").isalnum():
        raise RenderError(f"unknown change type {change_type!r}")
    return f"footprint.{short}"


def render_for_endpoint(
    fmt: DeliveryFormat | str,
    footprint: Any,
    *,
    event_id: str,
    change_type: object,
    source: str,
    time: datetime,
    renderers: Mapping[DeliveryFormat, Renderer],
    product_sequence: int | None = None,
) -> RenderedBody:
    """Bytes and content type for one endpoint format.

    Webhook payloads carry the change's `productSequence` (monotonic per product, from the outbox):
    deliveries run concurrently, so a receiver orders one product's changes by it, not by arrival."""
    try:
        fmt = DeliveryFormat(fmt)
    except ValueError:
        raise RenderError(f"unknown delivery format {fmt!r}") from None
    if fmt is DeliveryFormat.PACT:
        pf_id = getattr(footprint, "pf_id", None)
        event = pact_published_event([pf_id], event_id=event_id, source=source, time=time)  # type: ignore[list-item]
        return RenderedBody(CLOUDEVENTS_CONTENT_TYPE, _canonical(event))
    renderer = renderers.get(fmt)
    if renderer is None:
        raise RenderError(f"no renderer configured for {fmt.value}")
    try:
        record = renderer(footprint)
    except RecordError as exc:  # MappingError, SignatureError: the record cannot be made, with the reason
        raise RenderError(f"{fmt.value} mapping failed: {exc}") from None
    if not isinstance(record, Mapping):
        raise RenderError(f"{fmt.value} renderer returned {type(record).__name__}, not a mapping")
    if not isinstance(time, datetime) or time.tzinfo is None:
        raise RenderError("event time must be a timezone-aware datetime")
    payload: dict[str, Any] = {"type": webhook_event_type(change_type), "timestamp": v.iso(time), "data": dict(record)}
    if product_sequence is not None:
        payload["productSequence"] = product_sequence
    return RenderedBody(JSON_CONTENT_TYPE, _canonical(payload))
