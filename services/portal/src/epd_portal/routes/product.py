"""The product / EPD page, and its signed downloads (the gateway's documents, as the public sees them)."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from epd_portal import caching, charts, views
from epd_portal.documents import Document, document
from epd_portal.errors import NotFound
from epd_portal.routes.registry import Text, deps_of
from epd_records.errors import MappingError
from epd_records.status import PUBLIC, served_status

router = APIRouter()


@router.get("/products/{product_id}")
async def product(request: Request, product_id: str, plant: Text = "", notice: Text = "") -> Response:
    deps = deps_of(request)
    viewer = deps.pages.viewer(request)
    repo = deps.repository
    item = await repo.product(product_id)
    if item is None:
        raise NotFound(f"no product {product_id!r}")
    series = await repo.series(product_id, viewer.operator)
    chosen = next((s for s in series if s["plant_id"] == plant), series[0] if series else None)
    context: dict[str, Any] = {"item": item, "series": series, "chosen": chosen, "notice": notice}
    if chosen is not None:
        versions = await repo.versions(chosen["series_id"])
        drift = await repo.drift_events(chosen["series_id"])
        rows = views.version_rows(
            versions, views.viewer(viewer.operator), await repo.changes([v.pf_id for v in versions]), drift
        )
        seen = {r.pf_id for r in rows}
        drift = [d for d in drift if d["pf_id"] in seen]
        current = views.current(rows)
        inputs = views.upstream(product_id, await repo.system_documents())
        context.update(
            rows=rows,
            drift=drift,
            current=current,
            pending=views.pending(rows) if viewer.operator else [],
            history_chart=charts.history(rows, drift, viewer.lang),
            chain=views.chain(inputs, await repo.chain_links([i[0] for i in inputs])),
        )
        if current is not None:
            table = views.module_table(current.version)
            factor_set, factors, gwp_values = await repo.factor_set(current.version.fv.factor_set_version)
            context.update(
                modules=table,
                modules_chart=charts.modules(table, viewer.lang),
                windows=await repo.evidence_windows([current.pf_id]),
                factor_set=factor_set,
                factors=factors,
                gwp_values=gwp_values,
                jwks_url=deps.settings.public_url.rstrip("/") + "/.well-known/jwks.json",
                gateway_jwks_url=deps.settings.gateway_url.rstrip("/") + "/.well-known/jwks.json",
            )
    return deps.pages.html(request, viewer, "product.html", **context)


async def _document(request: Request, pf_id: uuid.UUID, fmt: str) -> Document:
    deps = deps_of(request)
    version = await deps.repository.version(pf_id)
    if version is None or served_status(version.fv, PUBLIC) is None:
        raise NotFound(f"no public version {pf_id}")
    ring = await deps.keys.get()
    try:
        return document(version, fmt, deps.programme, ring, version.fv.product_id)
    except MappingError as exc:
        raise NotFound(f"this version cannot be expressed as {fmt}: {exc}"[:300]) from None


Format = Literal["pact", "ilcd", "openepd"]


@router.get("/versions/{pf_id}/{fmt}")
async def download(request: Request, pf_id: uuid.UUID, fmt: Format) -> Response:
    doc = await _document(request, pf_id, fmt)
    headers = {
        "x-epd-signature": doc.signature,
        "x-epd-signature-kid": doc.kid,
        "content-disposition": f'attachment; filename="{doc.filename}"',
    }
    max_age = deps_of(request).settings.cache_seconds
    return caching.cached(request, doc.body, doc.media_type, private=False, max_age=max_age, headers=headers)


@router.get("/versions/{pf_id}/{fmt}/signature")
async def signature(request: Request, pf_id: uuid.UUID, fmt: Format) -> Response:
    """The body signature of the download, as a file: `epd verify FILE --body-signature "$(cat FILE.jws)"`."""
    doc = await _document(request, pf_id, fmt)
    headers = {"content-disposition": f'attachment; filename="{doc.filename}.jws"'}
    max_age = deps_of(request).settings.cache_seconds
    return caching.cached(
        request, doc.signature.encode(), "application/jose", private=False, max_age=max_age, headers=headers
    )


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> Response:
    """The programme's public record-signing keys (current and every retired one), as the gateway serves them."""
    deps = deps_of(request)
    ring = await deps.keys.get()
    body = json.dumps(ring.public_jwks(), separators=(",", ":")).encode()
    return caching.cached(request, body, "application/json", private=False, max_age=deps.settings.cache_seconds)
