"""HTTP caching of pages, feeds and downloads: a strong ETag from the exact body, 304 on a match,
Cache-Control by audience (public pages for `max-age`, operators' pages never stored)."""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response

#: What a page depends on besides its URL: the language (cookie or Accept-Language) and the session.
VARY = "Accept-Language, Cookie"


def etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return tag in (t.strip().removeprefix("W/") for t in header.split(","))


def cached(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    private: bool,
    max_age: int,
    headers: dict[str, str] | None = None,
) -> Response:
    """`body` with its ETag and Cache-Control; 304 without a body when the client holds it already."""
    tag = etag(body)
    cache = "private, no-store" if private else f"public, max-age={max_age}"
    out = {"etag": tag, "cache-control": cache, "vary": VARY, **(headers or {})}
    if request.method in ("GET", "HEAD") and _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={k: v for k, v in out.items() if k != "content-disposition"})
    return Response(body, media_type=media_type, headers=out)
