"""HTTP push endpoint (FastAPI) for plants whose systems push readings.

POST /v1/readings with either
- `application/json`: `{"readings": [{"field": <http field or meter id>, "value": "12.5",
  "observed_at": "2025-01-01T00:00:00Z"}, ...]}` or `{"observed_at": ..., "values": {<field>: <value>}}`
  (values as decimal strings or JSON numbers; numbers are read as decimals, never floats), or
- `application/x-protobuf`: an epd.v1.TelemetryBatch whose readings name configured meter ids.
Answers 202 `{"accepted": n}`; 400 unparsable body or a request head over 16 KiB, 401/403 no, wrong
or revoked credential, another plant's credential or a meter outside the credential's scope
(`epd_connector.push_auth`, checked before the body is read), 413 too large, 415 other content types,
422 a reading that names no configured meter or has a bad value or timestamp. Every error has a body
`{"code": <reason code>, "message": <text>}` (the platform's error shape, epd_common.http_limits.coded_error).
The whole request is refused on any bad reading or meter, so a plant never has to guess what got through.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from google.protobuf.message import DecodeError

from epd.v1 import telemetry_pb2
from epd_common.http_limits import RequestHeadLimit, coded_error, json_depth
from epd_connector import metrics
from epd_connector.config import MeterConfig
from epd_connector.errors import ConnectorError
from epd_connector.push_auth import PushAuthenticator, Refusal, meters_refused
from epd_connector.runtime import ConnectorRuntime
from epd_connector.sources.values import EdgeError, decimal_text, timestamp

MAX_READINGS = 10_000
MAX_JSON_DEPTH = 16


def _error(status: int, reason: str, message: str) -> JSONResponse:
    metrics.SOURCE_ERRORS.labels("http", reason).inc()
    return JSONResponse(status_code=status, content=coded_error(reason, message))


def _refusal(refusal: Refusal) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="epd-connector"'} if refusal.status == 401 else None
    return JSONResponse(
        status_code=refusal.status, content=coded_error(refusal.reason, refusal.message), headers=headers
    )


async def _discard(request: Request, limit: int) -> None:
    """Read and drop a refused body (up to `limit`), so a client that writes before it reads gets the answer."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            return


def _reject_constant(name: str) -> Any:
    raise EdgeError(f"{name} is not valid JSON; send non-finite values as strings")


def make_app(runtime: ConnectorRuntime, *, auth: PushAuthenticator | None, max_body_bytes: int = 1_048_576) -> FastAPI:
    """`auth` None: the TLS layer authenticated the client (mTLS with a client CA of this plant only)."""
    app = FastAPI(title="EPD connector push", docs_url=None, redoc_url=None)
    app.add_middleware(RequestHeadLimit, max_bytes=16 * 1024, body=coded_error)
    by_field: dict[str, MeterConfig] = {}
    for m in runtime.plant.meters:
        by_field[m.meter_id] = m
        if m.sources.http:
            by_field[m.sources.http.field] = m

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "plant_id": runtime.plant.plant_id}

    @app.post("/v1/readings")
    async def push(request: Request) -> JSONResponse:
        credential = None
        if auth is not None:
            checked = await auth.authenticate(request.headers.get("authorization"))
            if isinstance(checked, Refusal):
                await _discard(request, max_body_bytes)
                return _refusal(checked)
            credential = checked
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return _error(413, "too_large", f"body of {declared} bytes exceeds {max_body_bytes}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                return _error(413, "too_large", f"body exceeds {max_body_bytes} bytes")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if ctype == "application/json":
                readings = _from_json(bytes(body), by_field, runtime)
            elif ctype in ("application/x-protobuf", "application/protobuf"):
                readings = _from_proto(bytes(body), by_field, runtime)
            else:
                return _error(415, "unsupported_media_type", "send application/json or application/x-protobuf")
        except _BadBody as exc:
            return _error(400, "malformed", str(exc))
        except EdgeError as exc:
            return _error(422, "invalid_reading", str(exc))
        if len(readings) > MAX_READINGS:
            return _error(413, "too_many_readings", f"{len(readings)} readings exceed {MAX_READINGS}")
        if credential is not None and (outside := meters_refused(credential, [r.meter_id for r in readings])):
            return _refusal(outside)
        await runtime.submit(readings, "http")
        return JSONResponse(status_code=202, content={"accepted": len(readings)})

    return app


class _BadBody(ConnectorError):
    """A body that is not the JSON or protobuf shape a push must have (400, not 422)."""


def _from_json(body: bytes, by_field: dict[str, MeterConfig], rt: ConnectorRuntime) -> list:
    if json_depth(body) > MAX_JSON_DEPTH:  # a push is two or three levels deep; no parser recurses on more
        raise _BadBody(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        doc = json.loads(body, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    except EdgeError as exc:
        raise _BadBody(str(exc)) from exc
    except (ValueError, RecursionError) as exc:
        raise _BadBody(f"body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _BadBody("expected a JSON object with 'readings' or 'values'")
    if "readings" in doc:
        items = doc["readings"]
        if not isinstance(items, list):
            raise EdgeError("'readings' must be a list")
    elif "values" in doc and isinstance(doc["values"], dict):
        items = [{"field": k, "value": v, "observed_at": doc.get("observed_at")} for k, v in doc["values"].items()]
    else:
        raise EdgeError("expected 'readings' (a list) or 'values' (an object) with 'observed_at'")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise EdgeError(f"readings[{n}] is not an object")
        name = item.get("field", item.get("meter_id"))
        meter = by_field.get(name) if isinstance(name, str) else None
        if meter is None:
            raise EdgeError(f"readings[{n}]: {str(name)[:64]!r} is not a configured http field or meter id")
        try:
            out.append(
                rt.reading(
                    meter, decimal_text(item.get("value")), timestamp(item.get("observed_at")), f"http:{meter.meter_id}"
                )
            )
        except EdgeError as exc:
            raise EdgeError(f"readings[{n}]: {exc}") from exc
    return out


def _from_proto(body: bytes, by_field: dict[str, MeterConfig], rt: ConnectorRuntime) -> list:
    batch = telemetry_pb2.TelemetryBatch()
    try:
        batch.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeWarning) as exc:
        raise _BadBody(f"body is not an epd.v1.TelemetryBatch: {exc}") from exc
    out = []
    for n, r in enumerate(batch.readings):
        meter = by_field.get(r.meter_id)
        if meter is None:
            raise EdgeError(f"readings[{n}]: meter {r.meter_id[:64]!r} is not configured")
        if not r.HasField("observed_at"):
            raise EdgeError(f"readings[{n}]: observed_at is missing")
        try:
            raw = rt.reading(
                meter,
                decimal_text(r.value),
                r.observed_at.ToDatetime(),
                f"http:{meter.meter_id}",
                r.quality or telemetry_pb2.READING_QUALITY_GOOD,
            )
        except (EdgeError, ValueError, OverflowError) as exc:
            raise EdgeError(f"readings[{n}]: {exc}") from exc
        if r.unit:
            raw.unit = r.unit  # the plant says what unit it measured in; ingest normalises or rejects
        out.append(raw)
    return out
