"""Operators: log in with their footprint admin token, see what waits for a verifier, approve or reject.

The token is checked by the footprint admin API itself and kept only in the operator's sealed
session cookie (sessions.py); every action is a POST with the session's CSRF token, sent on to the
admin API with the operator's token. The pages are never cached (`private, no-store`)."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from epd_portal import views
from epd_portal.errors import AdminApiError, NotFound
from epd_portal.rendering import Viewer
from epd_portal.routes.registry import deps_of
from epd_portal.sessions import COOKIE, Session

router = APIRouter()
FormText = Annotated[str, Form(max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]


def _login_redirect() -> RedirectResponse:
    response = RedirectResponse("/operator/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _session(request: Request, csrf: str | None = None) -> tuple[Viewer, Session | None]:
    viewer = deps_of(request).pages.viewer(request)
    session = viewer.session
    if session is not None and csrf is not None and not session.csrf_ok(csrf):
        session = None
    return viewer, session


@router.get("/operator/login")
async def login_form(request: Request) -> Response:
    deps = deps_of(request)
    viewer = deps.pages.viewer(request)
    if viewer.operator:
        return RedirectResponse("/operator", status_code=303)
    return deps.pages.html(request, viewer, "login.html", error=None)


@router.post("/operator/login")
async def login(request: Request, token: FormText) -> Response:
    deps = deps_of(request)
    viewer = deps.pages.viewer(request)
    user = await deps.admin.whoami(token.strip()) if token.strip() else None
    if user is None:
        return deps.pages.html(request, viewer, "login.html", status=401, error="invalid")
    response = RedirectResponse("/operator", status_code=303)
    # The session names the key's user as the admin API knows it; nobody types a name in.
    sealed = deps.sessions.seal(deps.sessions.new(token.strip(), str(user.get("name") or user.get("user_id"))[:200]))
    response.set_cookie(
        COOKIE,
        sealed,
        max_age=int(deps.sessions.lifetime),
        httponly=True,
        secure=deps.settings.secure_cookies,
        samesite="strict",
        path="/",
    )
    return response


@router.post("/operator/logout")
async def logout(request: Request, csrf: FormText) -> Response:
    _session(request, csrf)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/operator")
async def queue(request: Request) -> Response:
    deps = deps_of(request)
    viewer, session = _session(request)
    if session is None:
        return _login_redirect()
    versions, events = await deps.repository.pending()
    rows = views.version_rows(versions, views.OPERATOR, [], events)
    return deps.pages.html(request, viewer, "operator.html", rows=rows)


async def _product_url(request: Request, pf_id: uuid.UUID, notice: str) -> str:
    version = await deps_of(request).repository.version(pf_id)
    if version is None:
        raise NotFound(f"no version {pf_id}")
    fv = version.fv
    return f"/products/{quote(fv.product_id, safe='')}?plant={quote(fv.plant_id, safe='')}&notice={notice}"


@router.post("/operator/versions/{pf_id}/approve")
async def approve(request: Request, pf_id: uuid.UUID, csrf: FormText) -> Response:
    _, session = _session(request, csrf)
    if session is None:
        return _login_redirect()
    try:
        await deps_of(request).admin.approve(session.token, pf_id)
    except AdminApiError as exc:
        if exc.status == 401:
            return _login_redirect()
        raise
    return RedirectResponse(await _product_url(request, pf_id, "approved"), status_code=303)


@router.post("/operator/versions/{pf_id}/reject")
async def reject(request: Request, pf_id: uuid.UUID, csrf: FormText, reason: FormText) -> Response:
    _, session = _session(request, csrf)
    if session is None:
        return _login_redirect()
    if not reason.strip():
        raise AdminApiError(400, "a rejection needs a reason")
    try:
        await deps_of(request).admin.reject(session.token, pf_id, reason.strip())
    except AdminApiError as exc:
        if exc.status == 401:
            return _login_redirect()
        raise
    return RedirectResponse(await _product_url(request, pf_id, "rejected"), status_code=303)
