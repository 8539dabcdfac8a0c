"""Request limits before any work: heads, bodies (declared and streamed), JSON depth; errors in the
service's own JSON shape; what passes reaches the app unchanged."""

from __future__ import annotations

import json

import httpx
import pytest

from epd_common.http_limits import RequestBodyLimit, RequestHeadLimit, coded_error, json_depth


class Echo:
    """An app that counts its calls and echoes the body it got."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    ("text", "depth"),
    [(b"{}", 1), (b'{"a": [1, {"b": []}]}', 4), (b'["[[[[", "]]"]', 1), (b'"\\"[[["', 0), (b"[" * 5000, 5000)],
)
def test_json_depth_ignores_brackets_in_strings(text, depth):
    assert json_depth(text) == depth


async def test_bodies_within_the_limit_reach_the_app_unchanged():
    echo = Echo()
    limited = RequestBodyLimit(echo, default_max=100, limits={"/token": 10, "/events/": 50})
    async with client(limited) as http:
        r = await http.post("/events/x", content=b"x" * 50)
        assert r.status_code == 200 and r.content == b"x" * 50
        assert (await http.post("/token", content=b"y" * 10)).content == b"y" * 10


async def test_too_large_bodies_are_refused_before_the_app_runs():
    echo = Echo()
    limited = RequestBodyLimit(echo, default_max=100, limits={"/token": 10}, body=coded_error)
    async with client(limited) as http:
        declared = await http.post("/token", content=b"y" * 11)

        async def stream():  # no Content-Length: counted while it streams in
            for _ in range(50):
                yield b"z" * 10

        streamed = await http.post("/other", content=stream())
    for r in (declared, streamed):
        assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert echo.calls == 0


async def test_deep_json_is_refused_and_shallow_json_passes():
    echo = Echo()
    limited = RequestBodyLimit(echo, default_max=1_000_000, max_json_depth=8)
    async with client(limited) as http:
        deep = await http.post("/e", content=b"[" * 2000 + b"]" * 2000, headers={"content-type": "application/json"})
        cloud = await http.post(
            "/e", content=b"[" * 20 + b"]" * 20, headers={"content-type": "application/cloudevents+json"}
        )
        ok = await http.post("/e", content=json.dumps({"a": [[1]]}), headers={"content-type": "application/json"})
    assert deep.status_code == 400 and deep.json()["code"] == "BadRequest" and cloud.status_code == 400
    assert ok.status_code == 200 and echo.calls == 1


async def test_an_oversized_head_is_refused():
    echo = Echo()
    async with client(RequestHeadLimit(echo, max_bytes=2048)) as http:
        r = await http.get("/x", headers={"x-big": "a" * 3000})
    assert r.status_code == 400 and "header section" in r.json()["message"] and echo.calls == 0
