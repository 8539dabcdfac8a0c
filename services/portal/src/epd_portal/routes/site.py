"""The language switch, liveness, and the static files' route (the bench baseline)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse

from epd_portal import i18n

router = APIRouter()


def safe_next(target: str) -> str:
    """Only a path on this site (never `//host` or a scheme): the switch is not an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.get("/language/{tag}")
async def switch_language(tag: str, next: Annotated[str, Query(max_length=2000)] = "/") -> RedirectResponse:
    response = RedirectResponse(safe_next(next), status_code=303)
    if tag in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, tag, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
