"""POST /3/events: PACT v3 CloudEvents. RequestCreated events are stored and answered asynchronously
by the request worker (epd_gateway.requests); Published events from partners are recorded;
RequestFulfilled/RequestRejected events are recorded (this gateway sends no requests of its own)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from epd_gateway.auth import Caller, require
from epd_gateway.deps import Deps
from epd_gateway.errors import ApiError, responses
from epd_gateway.formats import events as ev

router = APIRouter(tags=["event"])
MAX_EVENT_BYTES = 1_000_000
_ANSWERS = (ev.REQUEST_FULFILLED, ev.REQUEST_REJECTED)
_EVENT_SCHEMA = {"type": "object", "required": ["type", "specversion", "id", "source", "time", "data"],
                 "properties": {"type": {"type": "string"}, "specversion": {"type": "string"},
                                "id": {"type": "string"}, "source": {"type": "string"},
                                "time": {"type": "string"}, "data": {"type": "object"}}}
_DOC = {"requestBody": {"required": True, "content": {ev.CONTENT_TYPE: {"schema": _EVENT_SCHEMA},
                                                      "application/json": {"schema": _EVENT_SCHEMA}}}}


def _answer_event(body: Any) -> ev.IncomingEvent:
    """Envelope check for RequestFulfilled/RequestRejected events addressed to us."""
    if not isinstance(body.get("data"), dict) or not isinstance(body["data"].get("requestEventId"), str):
        raise ev.EventError("data.requestEventId is required")
    return ev.IncomingEvent(body["type"], ev._text(body["id"], "event id"), ev._text(body["source"], "event source"),
                            str(body["time"]))


@router.post("/3/events", openapi_extra=_DOC, responses={200: {"description": "accepted"},
                                                         **responses(400, 401, 403, 429)})
async def post_event(request: Request, caller: Caller = Depends(require("events:write"))) -> Response:
    deps: Deps = request.app.state.deps
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (ev.CONTENT_TYPE, "application/json"):
        raise ApiError(400, f"content type must be {ev.CONTENT_TYPE}")
    raw = await request.body()
    if len(raw) > MAX_EVENT_BYTES:
        raise ApiError(400, "event is larger than 1 MB")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "event is not JSON") from None
    try:
        if isinstance(body, dict) and body.get("type") in _ANSWERS and body.get("specversion") == ev.SPECVERSION \
                and all(k in body for k in ("id", "source", "time")):
            event = _answer_event(body)
        else:
            event = ev.parse_event(body)
    except ev.EventError as exc:
        raise ApiError(400, str(exc)) from None
    if "\x00" in raw.decode("utf-8", "replace") or "\\u0000" in raw.decode("utf-8", "replace"):
        raise ApiError(400, "event contains a NUL character")
    await deps.repository.record_event(caller.principal.client_id, event.id, event.type, event.source, body)
    if event.type == ev.REQUEST_CREATED and deps.request_wakeup is not None:
        deps.request_wakeup.set()
    return Response(status_code=200)
