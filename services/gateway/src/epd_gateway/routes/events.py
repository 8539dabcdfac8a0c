"""POST /3/events: PACT v3 CloudEvents. RequestCreated events are stored and answered asynchronously
by the request worker (epd_gateway.requests); Published events from partners are recorded;
RequestFulfilled/RequestRejected events are recorded (this gateway sends no requests of its own).

Stored events count against the client's quota (EPD_GATEWAY_EVENTS_QUOTA events and
EPD_GATEWAY_EVENTS_QUOTA_BYTES bytes): past it, 429 and nothing is stored; the request worker deletes
events older than EPD_GATEWAY_EVENTS_RETENTION_DAYS."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from epd_gateway.auth import Caller, require
from epd_gateway.deps import Deps
from epd_gateway.errors import ApiError, responses
from epd_gateway.repository import EventQuota, Stored
from epd_gateway.settings import GatewaySettings
from epd_records import events as ev
from epd_records.errors import EventError

router = APIRouter(tags=["event"])
EVENT_BODY_BYTES = 1_000_000  # the body limit refuses larger events while they stream in
QUOTA_RETRY_AFTER_S = 3600  # stored events leave the quota by retention (EPD_GATEWAY_EVENTS_RETENTION_DAYS)
_ANSWERS = (ev.REQUEST_FULFILLED, ev.REQUEST_REJECTED)
# The documented body is exactly what the handler accepts (so schema-valid events get 200).
_TEXT = {"type": "string", "maxLength": 500, "pattern": r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"}
_TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"}
_URN = {
    "type": "string",
    "maxLength": 500,
    "pattern": r"^[Uu][Rr][Nn]:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
}
_UUID = {
    "type": "string",
    "pattern": r"^([Uu][Rr][Nn]:[Uu][Uu][Ii][Dd]:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
}


def _list(item: dict) -> dict:
    return {"type": "array", "minItems": 1, "maxItems": 100, "items": item}


def _envelope(kind: str, data: dict) -> dict:
    return {
        "type": "object",
        "required": ["type", "specversion", "id", "source", "time", "data"],
        "properties": {
            "type": {"const": kind},
            "specversion": {"const": ev.SPECVERSION},
            "id": _TEXT,
            "source": _TEXT,
            "time": _TIME,
            "data": data,
        },
    }


_CRITERIA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "productId": _list(_URN),
        "companyId": _list(_URN),
        "classification": _list(_URN),
        "geography": _list(_TEXT),
        "validOn": _TIME,
        "validAfter": _TIME,
        "validBefore": _TIME,
        "status": {"enum": ["Active", "Deprecated"]},
        "comment": {**_TEXT, "maxLength": 2000},
    },
}
_EVENT_SCHEMA = {
    "oneOf": [
        _envelope(ev.REQUEST_CREATED, _CRITERIA),
        _envelope(ev.PUBLISHED, {"type": "object", "required": ["pfIds"], "properties": {"pfIds": _list(_UUID)}}),
        *(
            _envelope(
                kind,
                {
                    "type": "object",
                    "required": ["requestEventId"],
                    "properties": {"requestEventId": {"type": "string"}},
                },
            )
            for kind in _ANSWERS
        ),
    ]
}
_DOC = {
    "requestBody": {
        "required": True,
        "content": {ev.CONTENT_TYPE: {"schema": _EVENT_SCHEMA}, "application/json": {"schema": _EVENT_SCHEMA}},
    }
}


@router.post(
    "/3/events",
    openapi_extra=_DOC,
    response_class=Response,
    responses={200: {"description": "accepted"}, **responses(400, 401, 403, 429)},
)
async def post_event(request: Request, caller: Annotated[Caller, Depends(require("events:write"))]) -> Response:
    deps: Deps = request.app.state.deps
    settings: GatewaySettings = request.app.state.settings
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (ev.CONTENT_TYPE, "application/json"):
        raise ApiError(400, f"content type must be {ev.CONTENT_TYPE}")
    raw = await request.body()
    if len(raw) > EVENT_BODY_BYTES:
        raise ApiError(400, "event is larger than 1 MB")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "event is not JSON") from None
    try:
        event = ev.parse_incoming(body)
    except EventError as exc:
        raise ApiError(400, str(exc)) from None
    quota = EventQuota(settings.events_quota, settings.events_quota_bytes)
    stored = await deps.repository.record_event(
        caller.principal.client_id, event.id, event.type, event.source, body, quota
    )
    if stored is Stored.OVER_QUOTA:
        raise ApiError(
            429,
            f"this client's stored events are at their quota ({quota.events} events, {quota.bytes} bytes, "
            f"kept {settings.events_retention_days:g} days)",
            headers={"Retry-After": str(QUOTA_RETRY_AFTER_S)},
        )
    if event.type == ev.REQUEST_CREATED and deps.request_wakeup is not None:
        deps.request_wakeup.set()
    return Response(status_code=200)
