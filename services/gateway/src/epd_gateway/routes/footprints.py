"""GET /3/footprints (filters, limit, Link pagination) and GET /3/footprints/{id} (PACT JSON,
ILCD+EPD XML or openEPD JSON by `?format=` or Accept)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import StringConstraints

from epd_gateway import cursor
from epd_gateway.auth import Caller, require
from epd_gateway.catalogue import sign_document
from epd_gateway.deps import Deps
from epd_gateway.errors import ApiError, responses
from epd_gateway.formats.ilcd import ilcd_epd_xml
from epd_gateway.formats.openepd import openepd_document
from epd_gateway.formats.party import MappingError
from epd_gateway.query import LIST_FILTERS, TIME_FILTERS, FilterError, parse_filters
from epd_gateway.settings import GatewaySettings

router = APIRouter(tags=["footprint"])
CURSOR_PARAM = "x-epd-cursor"
DEFAULT_LIMIT = 100
OPENEPD_TYPE = "application/vnd.openepd+json"
_LIST_200 = {
    "description": "footprints",
    "headers": {"link": {"schema": {"type": "string"}}, "x-epd-signature-kid": {"schema": {"type": "string"}}},
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["data"],
                "properties": {"data": {"type": "array", "items": {"type": "object"}}},
            }
        }
    },
}
_GET_200 = {
    "description": "one footprint",
    "headers": {"x-epd-signature": {"schema": {"type": "string"}}},
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "object"}}}
        },
        "application/xml": {"schema": {"type": "string"}},
        OPENEPD_TYPE: {"schema": {"type": "object"}},
    },
}
# Documented constraints match what parse_filters accepts, so schema-valid requests are accepted.
_URN = r"^[Uu][Rr][Nn]:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+$"
Urn = Annotated[str, StringConstraints(pattern=_URN, max_length=512)]
Geo = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$", max_length=512)]
UrnList = Annotated[list[Urn] | None, Query(max_length=100)]
GeoList = Annotated[list[Geo] | None, Query(max_length=100)]
DateTime = Annotated[str | None, Query(json_schema_extra={"format": "date-time"})]


@router.get("/3/footprints", responses={200: _LIST_200, **responses(400, 401, 403, 429)})
async def list_footprints(
    request: Request,
    caller: Caller = Depends(require("footprint:list")),
    limit: Annotated[int | None, Query(ge=0)] = None,
    productId: UrnList = None,
    companyId: UrnList = None,
    geography: GeoList = None,
    classification: UrnList = None,
    validOn: DateTime = None,
    validAfter: DateTime = None,  # noqa: N803
    validBefore: DateTime = None,
    status: Literal["Active", "Deprecated"] | None = None,
    # Only ever taken from our own Link headers (opaque), so it is not part of the documented API.
    x_epd_cursor: Annotated[str | None, Query(alias=CURSOR_PARAM, max_length=400, include_in_schema=False)] = None,
) -> JSONResponse:
    deps: Deps = request.app.state.deps
    settings: GatewaySettings = request.app.state.settings
    names = (*LIST_FILTERS, *TIME_FILTERS, "status")
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key in names:
            params.setdefault(key, []).append(value)
    try:
        filters = parse_filters(params)
    except FilterError as exc:
        raise ApiError(400, str(exc)) from None
    if limit == 0:
        return JSONResponse({"data": []})
    size = min(limit or DEFAULT_LIMIT, settings.page_limit_max)
    digest = cursor.filters_digest(caller.principal.client_id, filters.key())
    after = None
    if x_epd_cursor is not None:
        try:
            after = cursor.decode(deps.cursor_key, x_epd_cursor, digest, now=deps.clock())
        except (cursor.CursorError, ValueError, TypeError):
            raise ApiError(400, "the pagination cursor is invalid or expired") from None
    ring = await deps.keys.get()
    served, position = await deps.catalogue.list(
        caller.agreement, filters, after, size, ring, max_scan=max(10 * size, 2000)
    )
    headers = {"x-epd-signature-kid": ring.kid}
    if position is not None:
        token = cursor.encode(deps.cursor_key, position, digest, settings.cursor_ttl_seconds, now=deps.clock())
        query = [(k, v) for k, v in request.query_params.multi_items() if k in names]
        query += [("limit", str(size)), (CURSOR_PARAM, token)]
        url = str(request.url.replace(query=urlencode(query)))
        headers["link"] = f'<{url}>; rel="next"'
    # The same bytes JSONResponse would render, joined from the cached record bodies.
    body = b'{"data":[' + b",".join(s.body for s in served) + b"]}"
    return Response(body, media_type="application/json", headers=headers)


def _format(request: Request, fmt: str | None) -> str:
    if fmt:
        return fmt
    accept = request.headers.get("accept", "").lower()
    if OPENEPD_TYPE in accept:
        return "openepd"
    if "application/xml" in accept or "text/xml" in accept:
        return "ilcd"
    return "pact"


@router.get("/3/footprints/{id}", responses={200: _GET_200, **responses(400, 401, 403, 404, 429)})
async def get_footprint(
    request: Request,
    id: uuid.UUID,
    caller: Caller = Depends(require("footprint:read")),
    format: Literal["pact", "ilcd", "openepd"] | None = None,
) -> Response:
    deps: Deps = request.app.state.deps
    ring = await deps.keys.get()
    served = await deps.catalogue.get(caller.agreement, id, ring)
    if served is None:
        raise ApiError(404, "the requested footprint could not be found", "NotFound")
    kind = _format(request, format)
    headers = {"x-epd-signature-kid": ring.kid, "vary": "accept"}
    if kind == "pact":
        return JSONResponse({"data": served.footprint}, headers={**headers, "x-epd-signature": served.signature})
    try:
        if kind == "ilcd":
            body, media = ilcd_epd_xml(served.row.version, served.party), "application/xml"
        else:
            body = json.dumps(
                openepd_document(served.row.version, served.party), ensure_ascii=False, separators=(",", ":")
            ).encode()
            media = OPENEPD_TYPE
    except MappingError as exc:
        raise ApiError(404, f"the footprint cannot be expressed as {kind}: {exc}"[:300], "NotFound") from None
    return Response(body, media_type=media, headers={**headers, "x-epd-signature": sign_document(body, ring)})
