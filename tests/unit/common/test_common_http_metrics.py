"""RedMiddleware labels requests by route template (not raw path), bounded method and real status."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from epd_common.http_metrics import RedMiddleware, red_metrics

REQUESTS, DURATION = red_metrics("epd_unittest_http_requests_total", "epd_unittest_http_request_duration_seconds")


def app() -> FastAPI:
    api = FastAPI()

    @api.get("/items/{item_id}")
    async def item(item_id: int) -> dict:
        if item_id == 0:
            raise HTTPException(404, "no")
        return {"id": item_id}

    api.add_middleware(RedMiddleware, requests=REQUESTS, duration=DURATION)
    return api


def count(route: str, method: str, status: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "epd_unittest_http_requests_total", {"route": route, "method": method, "status": status}
        )
        or 0.0
    )


def test_route_template_method_and_status_are_the_labels():
    client = TestClient(app())
    for i in (1, 2, 3):
        assert client.get(f"/items/{i}").status_code == 200
    assert client.get("/items/0").status_code == 404
    assert client.get("/nowhere/abc").status_code == 404
    assert client.request("BREW", "/items/1").status_code in (404, 405)
    assert count("/items/{item_id}", "GET", "200") == 3
    assert count("/items/{item_id}", "GET", "404") == 1
    assert count("unmatched", "GET", "404") == 1
    assert count("/items/{item_id}", "OTHER", "405") + count("unmatched", "OTHER", "404") == 1
    assert (
        REGISTRY.get_sample_value(
            "epd_unittest_http_request_duration_seconds_count", {"route": "/items/{item_id}", "method": "GET"}
        )
        == 4
    )
