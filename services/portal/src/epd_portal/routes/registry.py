"""Public registry pages: search (the home page), categories (PCRs) with the GWP distribution, companies."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from epd_portal import charts, views
from epd_portal.deps import Deps
from epd_portal.errors import NotFound
from epd_portal.queries import Search

router = APIRouter()
#: Free text from people: bounded, and no control characters (NUL never reaches PostgreSQL).
Text = Annotated[str, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Page = Annotated[int, Query(ge=1, le=100_000)]
Status = Literal["", "published", "withdrawn", "expired", "deprecated"]


def deps_of(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def paging(total: int, page: int, size: int) -> dict[str, int]:
    pages = max(1, -(-total // size))
    return {"page": min(page, pages), "pages": pages, "total": total, "size": size}


@router.get("/")
async def search(
    request: Request,
    q: Text = "",
    category: Text = "",
    classification: Text = "",
    company: Text = "",
    status: Status = "",
    sort: Literal["name", "gwp"] = "name",
    page: Page = 1,
) -> Response:
    deps = deps_of(request)
    viewer = deps.pages.viewer(request)
    found = Search(q.strip(), category, classification.strip(), company, status, sort)
    size = deps.settings.page_size
    rows, total = await deps.repository.listing(found, size, (page - 1) * size)
    return deps.pages.html(
        request,
        viewer,
        "search.html",
        search=found,
        rows=rows,
        paging=paging(total, page, size),
        pcr_ids=await deps.repository.pcr_ids(),
        query=dict(request.query_params),
    )


@router.get("/categories")
async def categories(request: Request) -> Response:
    deps = deps_of(request)
    return deps.pages.html(
        request, deps.pages.viewer(request), "categories.html", categories=await deps.repository.categories()
    )


@router.get("/categories/{pcr_id}")
async def category(request: Request, pcr_id: str, product: Text = "", page: Page = 1) -> Response:
    deps = deps_of(request)
    viewer = deps.pages.viewer(request)
    found = await deps.repository.categories(pcr_id)
    if not found:
        raise NotFound(f"no category {pcr_id!r}")
    points = await deps.repository.distribution(pcr_id)
    values = [Decimal(p["gwp"]) for p in points]
    ranks = views.percentile_ranks(values)
    plotted = charts.sample([(v, r, p["product_name"]) for v, r, p in zip(values, ranks, points, strict=True)])
    marked = [
        (v, r, p["product_name"])
        for v, r, p in zip(values, ranks, points, strict=True)
        if product and p["product_id"] == product
    ]
    size = deps.settings.page_size
    rows, total = await deps.repository.listing(Search(pcr=pcr_id), size, (page - 1) * size)
    return deps.pages.html(
        request,
        viewer,
        "category.html",
        category=found[0],
        chart=charts.distribution(plotted, marked, viewer.lang),
        plotted=plotted,
        sampled=len(plotted) < len(points),
        count=len(points),
        marked=marked,
        rows=rows,
        paging=paging(total, page, size),
        query=dict(request.query_params),
    )


@router.get("/companies/{organisation_id}")
async def company(request: Request, organisation_id: str, page: Page = 1) -> Response:
    deps = deps_of(request)
    org, plants, products = await deps.repository.organisation(organisation_id)
    if org is None:
        raise NotFound(f"no company {organisation_id!r}")
    size = deps.settings.page_size
    rows, total = await deps.repository.listing(Search(company=organisation_id), size, (page - 1) * size)
    return deps.pages.html(
        request,
        deps.pages.viewer(request),
        "company.html",
        org=org,
        plants=plants,
        products=products,
        rows=rows,
        paging=paging(total, page, size),
        query=dict(request.query_params),
    )
