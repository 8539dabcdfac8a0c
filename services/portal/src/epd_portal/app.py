"""FastAPI application factory: pages, feeds, downloads, static files; errors as pages in the
visitor's language; RED metrics; the request-head bound before any work."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from epd_common.http_limits import RequestBodyLimit, RequestHeadLimit
from epd_common.http_metrics import RedMiddleware
from epd_common.signing_keys import SigningKeyError
from epd_portal.deps import Deps
from epd_portal.errors import AdminApiError, NotFound
from epd_portal.observability import HTTP_DURATION, HTTP_REQUESTS
from epd_portal.routes import feeds, operator, product, registry, site

log = logging.getLogger(__name__)
FORM_BODY_BYTES = 64 * 1024


def plain_error(reason: str, message: str) -> dict[str, str]:
    """Body of a 400 the HTTP layer gives before any page can be rendered."""
    return {"code": "BadRequest", "message": message}


def _error_page(request: Request, status: int, message: str) -> Response:
    deps: Deps = request.app.state.deps
    viewer = deps.pages.viewer(request)
    return deps.pages.html(request, viewer, "error.html", status=status, code=status, message=message)


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error_page(request, 404, str(exc))

    @app.exception_handler(AdminApiError)
    async def _admin(request: Request, exc: AdminApiError) -> Response:
        status = exc.status if 400 <= exc.status < 600 else 502
        return _error_page(request, status, exc.message)

    @app.exception_handler(SigningKeyError)
    async def _no_key(request: Request, exc: SigningKeyError) -> Response:
        log.error("downloads unavailable: %s", exc)
        return _error_page(request, 503, "signed documents are not available yet")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error_page(request, 400, f"{where}: {first.get('msg', 'invalid')}"[:300])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error_page(request, exc.status_code, str(exc.detail)[:300])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return _error_page(request, 500, "internal error")


def create_app(deps: Deps) -> FastAPI:
    app = FastAPI(title="EPD registry portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.deps = deps
    install_errors(app)
    for module in (registry, product, feeds, operator, site):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(packages=[("epd_portal", "static")]), name="static")
    app.add_middleware(RedMiddleware, requests=HTTP_REQUESTS, duration=HTTP_DURATION)
    # Forms (login, approve, reject) are a few hundred bytes: bounded before any work, like every edge.
    app.add_middleware(RequestBodyLimit, default_max=FORM_BODY_BYTES, max_json_depth=16, body=plain_error)
    app.add_middleware(RequestHeadLimit, max_bytes=deps.settings.max_request_head_bytes, body=plain_error)
    return app
