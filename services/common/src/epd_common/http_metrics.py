"""HTTP RED metrics (rate, errors, duration) for a service's ASGI app, labelled by route TEMPLATE.

Each service defines its own two metrics (names `epd_<component>_http_requests_total` and
`epd_<component>_http_request_duration_seconds`, labels route, method, status) with
`red_metrics(...)` and wraps its app with `RedMiddleware`. The route label is the matched
template (e.g. `/3/footprints/{id}`), never the raw path; unmatched paths count as `unmatched`, and
methods outside the standard set as `OTHER`, so every label stays bounded.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def red_metrics(requests_name: str, duration_name: str) -> tuple[Counter, Histogram]:
    return (
        Counter(requests_name, "HTTP requests by route template, method and status", ["route", "method", "status"]),
        Histogram(
            duration_name,
            "HTTP request duration by route template and method",
            ["route", "method"],
            buckets=DURATION_BUCKETS,
        ),
    )


def route_label(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class RedMiddleware:
    """Pure ASGI middleware (no body buffering); exceptions count as status 500 and propagate."""

    def __init__(self, app: Any, requests: Counter, duration: Histogram) -> None:
        self.app, self.requests, self.duration = app, requests, duration

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope.get("method", "")
            method = method if method in METHODS else "OTHER"
            route = route_label(scope)
            self.requests.labels(route, method, str(status[0])).inc()
            self.duration.labels(route, method).observe(time.perf_counter() - started)
