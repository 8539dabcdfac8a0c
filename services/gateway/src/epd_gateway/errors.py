"""PACT error bodies `{code, message}` for every failure, including validation and unexpected errors."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_CODES = {
    400: "BadRequest",
    401: "AccessDenied",
    403: "AccessDenied",
    404: "NotFound",
    405: "BadRequest",
    406: "BadRequest",
    413: "BadRequest",
    415: "BadRequest",
    422: "BadRequest",
    429: "BadRequest",
    500: "InternalError",
    501: "NotImplemented",
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {
            "type": "string",
            "enum": ["BadRequest", "AccessDenied", "TokenExpired", "NotFound", "InternalError", "NotImplemented"],
        },
        "message": {"type": "string"},
    },
}


class GatewayError(Exception):
    """Base of the gateway's own errors (never a programming error); the message says why."""


class ApiError(GatewayError):
    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
        self.code = code or _CODES.get(status, "BadRequest")


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI documentation of the error responses a route can give."""
    return {
        s: {"description": _CODES.get(s, "error"), "content": {"application/json": {"schema": ERROR_SCHEMA}}}
        for s in statuses
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(400, "BadRequest", f"invalid request: {where}: {first.get('msg', 'invalid')}"[:500])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            exc.status_code, _CODES.get(exc.status_code, "BadRequest"), str(exc.detail)[:500], dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "InternalError", "internal error")
