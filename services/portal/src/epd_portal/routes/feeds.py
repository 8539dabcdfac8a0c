"""Atom feeds (RFC 4287) of new versions, overall and per category, for registries without Kafka:
every version the public sees, newest change first, written with feedgen."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from epd_portal import caching, views
from epd_portal.errors import NotFound
from epd_portal.labels import STATUS
from epd_portal.routes.registry import deps_of
from epd_records.status import status_name

router = APIRouter()
ENTRIES = 50


async def _feed(request: Request, pcr_id: str | None) -> Response:
    deps = deps_of(request)
    viewer = deps.pages.viewer(request)
    _ = viewer.lang.gettext
    if pcr_id is not None and not await deps.repository.categories(pcr_id):
        raise NotFound(f"no category {pcr_id!r}")
    versions = await deps.repository.feed(pcr_id, ENTRIES)
    base = deps.settings.public_url.rstrip("/")
    feed = FeedGenerator()
    feed.id(base + request.url.path)
    feed.title(_("New EPD versions") + (f": {pcr_id}" if pcr_id else ""))
    feed.author({"name": deps.settings.programme_operator})
    feed.link(href=base + request.url.path, rel="self")
    feed.link(href=base + ("/categories/" + quote(pcr_id, safe="") if pcr_id else "/"), rel="alternate")
    feed.language(viewer.lang.tag)
    feed.updated(
        max((v.status_changed_at for v in versions if v.status_changed_at), default=datetime(2000, 1, 1, tzinfo=UTC))
    )
    for v in versions:
        fv, entry = v.fv, feed.add_entry(order="append")
        status = _(STATUS.get(status_name(fv.status), status_name(fv.status)))
        value = views.gwp(v)
        entry.id(fv.pf_id)
        entry.title(
            _("%(product)s, version %(n)s: %(status)s")
            % {"product": fv.product_name, "n": fv.version, "status": status}
        )
        entry.link(href=f"{base}/products/{quote(fv.product_id, safe='')}?plant={quote(fv.plant_id, safe='')}")
        entry.updated(v.status_changed_at or fv.created_at.ToDatetime(tzinfo=UTC))
        entry.published(fv.created_at.ToDatetime(tzinfo=UTC))
        entry.category(term=fv.pcr_id)
        gwp_text = f"{viewer.lang.number(value)} kg CO2e / {fv.declared_unit}" if value is not None else "–"
        summary = _("%(company)s; GWP A1-A3: %(gwp)s; registration %(number)s")
        entry.summary(summary % {"company": fv.organisation_name, "gwp": gwp_text, "number": fv.registration_number})
    body = feed.atom_str(pretty=False)
    return caching.cached(
        request, body, "application/atom+xml; charset=utf-8", private=False, max_age=deps.settings.cache_seconds
    )


@router.get("/feeds/versions.atom")
async def all_versions(request: Request) -> Response:
    return await _feed(request, None)


@router.get("/feeds/categories/{pcr_id}.atom")
async def category_versions(request: Request, pcr_id: str) -> Response:
    return await _feed(request, pcr_id)
