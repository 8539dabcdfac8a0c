"""PACT v3 CloudEvents (structured mode, specversion 1.0): builders for outgoing events and a
checked parser for incoming ones. Type names are those of PACT v3.0.3 (openapi-v3.0.3.yaml)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from epd_records import values as v
from epd_records.errors import EventError, MappingError

PUBLISHED = "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
REQUEST_CREATED = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3"
REQUEST_FULFILLED = "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
REQUEST_REJECTED = "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
# PACT Error.code values (with their HTTP statuses in the spec).
ERROR_CODES = frozenset({"BadRequest", "AccessDenied", "TokenExpired", "NotFound", "InternalError", "NotImplemented"})
_LIST_FILTERS = ("productId", "companyId", "geography", "classification")
_TIME_FILTERS = ("validOn", "validAfter", "validBefore")
_MAX_LIST = 100
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def _envelope(event_type: str, event_id: str, source: str, time: datetime, data: dict[str, Any]) -> dict[str, Any]:
    if time.tzinfo is None:
        raise EventError("event time must be timezone-aware")
    return {
        "type": event_type,
        "specversion": SPECVERSION,
        "id": _text(event_id, "event id"),
        "source": _text(source, "event source"),
        "time": v.iso(time),
        "data": data,
    }


def _text(value: Any, what: str, max_len: int = 500) -> str:
    try:
        return v.text(value, what, required=True, max_len=max_len)
    except MappingError as exc:
        raise EventError(str(exc)) from None


def published_event(pf_ids: Sequence[str], *, event_id: str, source: str, time: datetime) -> dict[str, Any]:
    """Tell a recipient that these footprints were published or updated (ids, not bodies)."""
    try:
        ids = list(dict.fromkeys(v.pf_uuid(p, "pf id") for p in pf_ids))
    except MappingError as exc:
        raise EventError(str(exc)) from None
    if not ids:
        raise EventError("a PublishedEvent needs at least one pf id")
    return _envelope(PUBLISHED, event_id, source, time, {"pfIds": ids})


def request_fulfilled_event(
    request_event_id: str, footprints: Sequence[Mapping[str, Any]], *, event_id: str, source: str, time: datetime
) -> dict[str, Any]:
    """Answer a RequestCreated event with the matching ProductFootprints (non-empty, per the spec)."""
    if not footprints:
        raise EventError("RequestFulfilled needs at least one footprint; send RequestRejected instead")
    data = {"requestEventId": _text(request_event_id, "request event id"), "pfs": [dict(pf) for pf in footprints]}
    return _envelope(REQUEST_FULFILLED, event_id, source, time, data)


def request_rejected_event(
    request_event_id: str, code: str, message: str, *, event_id: str, source: str, time: datetime
) -> dict[str, Any]:
    if code not in ERROR_CODES:
        raise EventError(f"error code must be one of {sorted(ERROR_CODES)}, got {code!r:.40}")
    data = {
        "requestEventId": _text(request_event_id, "request event id"),
        "error": {"code": code, "message": _text(message, "error message", 2000)},
    }
    return _envelope(REQUEST_REJECTED, event_id, source, time, data)


@dataclass(frozen=True)
class IncomingEvent:
    """A checked incoming CloudEvent; `criteria` for RequestCreated, `pf_ids` for Published."""

    type: str
    id: str
    source: str
    time: str
    criteria: dict[str, Any] = field(default_factory=dict)
    pf_ids: tuple[str, ...] = ()


def _envelope_of(body: Any) -> tuple[str, str, str, Mapping[str, Any]]:
    """(id, source, time, data) of a structured-mode CloudEvent; EventError says what is wrong."""
    if not isinstance(body, Mapping):
        raise EventError("event must be a JSON object")
    for key in ("type", "specversion", "id", "source", "time", "data"):
        if key not in body:
            raise EventError(f"event lacks required attribute {key!r}")
    if body["specversion"] != SPECVERSION:
        raise EventError(f"specversion must be {SPECVERSION!r}")
    event_id, source = _text(body["id"], "event id"), _text(body["source"], "event source")
    time = body["time"]
    if not isinstance(time, str) or not _RFC3339.match(time):
        raise EventError("event time must be an RFC 3339 date-time")
    data = body["data"]
    if not isinstance(data, Mapping):
        raise EventError("event data must be an object")
    return event_id, source, time, data


def parse_incoming(body: Any) -> IncomingEvent:
    """Any event a partner may post to us: RequestCreated, Published, or the answer
    (RequestFulfilled/RequestRejected) to a request of ours."""
    if isinstance(body, Mapping) and body.get("type") in (REQUEST_FULFILLED, REQUEST_REJECTED):
        event_id, source, time, data = _envelope_of(body)
        if not isinstance(data.get("requestEventId"), str):
            raise EventError("data.requestEventId is required")
        return IncomingEvent(str(body["type"]), event_id, source, time)
    return parse_event(body)


def parse_event(body: Any) -> IncomingEvent:
    """Check an incoming PACT event (RequestCreated or Published); EventError says what is wrong."""
    event_id, source, time, data = _envelope_of(body)
    if body["type"] == REQUEST_CREATED:
        return IncomingEvent(REQUEST_CREATED, event_id, source, time, criteria=_criteria(data))
    if body["type"] == PUBLISHED:
        ids = data.get("pfIds")
        if not isinstance(ids, list) or not ids or len(ids) > _MAX_LIST:
            raise EventError(f"pfIds must be a list of 1..{_MAX_LIST} ids")
        try:
            return IncomingEvent(PUBLISHED, event_id, source, time, pf_ids=tuple(v.pf_uuid(i, "pfId") for i in ids))
        except MappingError as exc:
            raise EventError(str(exc)) from None
    raise EventError(f"event type {str(body['type'])[:120]!r} is not accepted here")


def _criteria(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _LIST_FILTERS:
            if not isinstance(value, list) or not 0 < len(value) <= _MAX_LIST:
                raise EventError(f"{key} must be a list of 1..{_MAX_LIST} strings")
            out[key] = [_text(item, key, 500) for item in value]
        elif key in _TIME_FILTERS:
            if not isinstance(value, str) or not _RFC3339.match(value):
                raise EventError(f"{key} must be an RFC 3339 date-time")
            out[key] = value
        elif key == "status":  # case-insensitive; a value that is neither Active nor Deprecated matches nothing
            out[key] = _text(value, "status", 40)
        elif key == "comment":
            out[key] = _text(value, "comment", 2000)
        else:
            raise EventError(f"unknown request criterion {str(key)[:60]!r}")
    return out
