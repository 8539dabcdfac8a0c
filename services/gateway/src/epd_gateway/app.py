"""FastAPI application factory: routes, PACT error bodies, the request worker and render-ahead in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from epd_common.http_limits import RequestBodyLimit, RequestHeadLimit
from epd_common.http_metrics import RedMiddleware
from epd_gateway import errors, render_ahead, requests
from epd_gateway.deps import Deps
from epd_gateway.observability import HTTP_DURATION, HTTP_REQUESTS
from epd_gateway.routes import auth, events, footprints, health
from epd_gateway.routes.auth import TOKEN_BODY_BYTES
from epd_gateway.routes.events import EVENT_BODY_BYTES
from epd_gateway.settings import GatewaySettings


def create_app(settings: GatewaySettings, deps: Deps, *, run_request_worker: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if run_request_worker:
            deps.request_wakeup = deps.request_wakeup or asyncio.Event()
            task = asyncio.create_task(
                requests.run_worker(
                    deps.catalogue,
                    deps.keys,
                    settings.issuer,
                    deps.request_wakeup,
                    settings.request_poll_seconds,
                    settings.events_retention_days,
                    (deps.api_limits.purge, deps.token_limits.purge, deps.drop_retired_records),
                )
            )
            tasks.append(task)
        if run_request_worker and settings.render_ahead_seconds > 0:
            ahead = render_ahead.RenderAhead(deps.catalogue, deps.keys, deps.repository.pool)
            tasks.append(asyncio.create_task(render_ahead.run(ahead, settings.render_ahead_seconds)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="EPD gateway (PACT v3.0.3)", version="3.0.3", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings, app.state.deps = settings, deps
    errors.install(app)
    for module in (auth, footprints, events, health):
        app.include_router(module.router)
    app.add_middleware(RedMiddleware, requests=HTTP_REQUESTS, duration=HTTP_DURATION)
    # Limits before any routing or authentication: bodies while they stream in, then the head (outermost).
    app.add_middleware(
        RequestBodyLimit,
        default_max=settings.max_request_body_bytes,
        limits={"/auth/token": TOKEN_BODY_BYTES, "/3/events": EVENT_BODY_BYTES},
        max_json_depth=settings.max_json_depth,
    )
    app.add_middleware(RequestHeadLimit, max_bytes=settings.max_request_head_bytes)
    return app
