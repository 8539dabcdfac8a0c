"""GET /3/footprints (filters, limit, Link pagination) and GET /3/footprints/{id} (PACT JSON,
ILCD+EPD XML or openEPD JSON by `?format=` or Accept).

Every response body carries `x-epd-signature`: a detached JWS (EdDSA, `b64: false`) over the exact
response bytes, whatever the format; `x-epd-signature-kid` names the key. Each PACT record inside
also carries its own signature (epd_records.record), which survives re-serialisation.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import StringConstraints

from epd_gateway import cursor
from epd_gateway.auth import Caller, require
from epd_gateway.deps import Deps
from epd_gateway.errors import ApiError, responses
from epd_gateway.query import FILTER_NAMES, MAX_VALUE_CHARS, MAX_VALUES, FilterError, normalise, parse_filters
from epd_gateway.settings import GatewaySettings
from epd_records.errors import MappingError
from epd_records.ilcd import ilcd_epd_xml
from epd_records.openepd import openepd_document
from epd_records.signing import sign_payload

router = APIRouter(tags=["footprint"])
CURSOR_PARAM = "x-epd-cursor"
DEFAULT_LIMIT = 100
OPENEPD_TYPE = "application/vnd.openepd+json"
_SIGNATURE_HEADERS = {
    "x-epd-signature": {
        "description": "detached JWS (EdDSA, b64:false) over the exact response body",
        "schema": {"type": "string"},
    },
    "x-epd-signature-kid": {"description": "the key (see /.well-known/jwks.json)", "schema": {"type": "string"}},
}
_LIST_200 = {
    "description": "footprints",
    "headers": {"link": {"schema": {"type": "string"}}, **_SIGNATURE_HEADERS},
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
    "headers": _SIGNATURE_HEADERS,
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "object"}}}
        },
        "application/xml": {"schema": {"type": "string"}},
        OPENEPD_TYPE: {"schema": {"type": "object"}},
    },
}
# Documented as parse_filters accepts them: any value that is not a URN (or a status other than
# Active/Deprecated) matches nothing and answers 200; names are matched case-insensitively too.
Value = Annotated[str, StringConstraints(max_length=MAX_VALUE_CHARS)]
Values = Annotated[list[Value] | None, Query(max_length=MAX_VALUES)]
DateTime = Annotated[str | None, Query(json_schema_extra={"format": "date-time"})]
Status = Annotated[str | None, Query(max_length=40, json_schema_extra={"examples": ["Active", "Deprecated"]})]


def _signed(body: bytes, media: str, ring_kid: str, signature: str, headers: dict[str, str]) -> Response:
    return Response(
        body, media_type=media, headers={**headers, "x-epd-signature": signature, "x-epd-signature-kid": ring_kid}
    )


@router.get("/3/footprints", responses={200: _LIST_200, **responses(400, 401, 403, 429)})
async def list_footprints(
    request: Request,
    caller: Annotated[Caller, Depends(require("footprint:list"))],
    limit: Annotated[int | None, Query(ge=0)] = None,
    productId: Values = None,  # noqa: N803 - the spec's parameter names
    companyId: Values = None,  # noqa: N803
    geography: Values = None,
    classification: Values = None,
    validOn: DateTime = None,  # noqa: N803
    validAfter: DateTime = None,  # noqa: N803
    validBefore: DateTime = None,  # noqa: N803
    status: Status = None,
    # Only ever taken from our own Link headers (opaque), so it is not part of the documented API.
    x_epd_cursor: Annotated[str | None, Query(alias=CURSOR_PARAM, max_length=400, include_in_schema=False)] = None,
) -> Response:
    deps: Deps = request.app.state.deps
    settings: GatewaySettings = request.app.state.settings
    items = request.query_params.multi_items()
    try:
        filters = parse_filters(normalise(items))
    except FilterError as exc:
        raise ApiError(400, str(exc)) from None
    size = min(DEFAULT_LIMIT if limit is None else limit, settings.page_limit_max)
    digest = cursor.filters_digest(caller.principal.client_id, filters.key())
    after = None
    if x_epd_cursor is not None:
        try:
            after = cursor.decode(deps.cursor_key, x_epd_cursor, digest, now=deps.clock())
        except cursor.CursorError:
            raise ApiError(400, "the pagination cursor is invalid or expired") from None
    ring = await deps.keys.get()
    page = await deps.catalogue.list(
        caller.agreement, filters, after, size, ring, max_scan=max(10 * max(size, 1), 2000)
    )
    headers = {}
    if page.more:
        query = [(k, v) for k, v in items if k.lower() in _FILTER_KEYS]
        if size > 0:  # a page of 0 asks whether more exist; its link continues with the default page size
            query.append(("limit", str(size)))
        if page.position is not None:
            token = cursor.encode(deps.cursor_key, page.position, digest, settings.cursor_ttl_seconds, now=deps.clock())
            query.append((CURSOR_PARAM, token))
        headers["link"] = f'<{request.url.replace(query=urlencode(query))}>; rel="next"'
    # The same bytes JSONResponse would render, joined from the cached record bodies.
    body = b'{"data":[' + b",".join(r.body for r in page.records) + b"]}"
    return _signed(body, "application/json", ring.kid, sign_payload(body, ring), headers)


_FILTER_KEYS = frozenset(name.lower() for name in FILTER_NAMES)


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
    caller: Annotated[Caller, Depends(require("footprint:read"))],
    format: Literal["pact", "ilcd", "openepd"] | None = None,
) -> Response:
    deps: Deps = request.app.state.deps
    ring = await deps.keys.get()
    served = await deps.catalogue.get(caller.agreement, id, ring)
    if served is None:
        raise ApiError(404, "the requested footprint could not be found", "NotFound")
    kind = _format(request, format)
    headers = {"vary": "accept"}
    try:
        if kind == "pact":
            body, media = b'{"data":' + served.record.body + b"}", "application/json"
        elif kind == "ilcd":
            body, media = ilcd_epd_xml(served.version, served.party, served.viewer), "application/xml"
        else:
            document = openepd_document(served.version, served.party, served.viewer)
            body, media = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(), OPENEPD_TYPE
    except MappingError as exc:
        raise ApiError(404, f"the footprint cannot be expressed as {kind}: {exc}"[:300], "NotFound") from None
    return _signed(body, media, ring.kid, sign_payload(body, ring), headers)
