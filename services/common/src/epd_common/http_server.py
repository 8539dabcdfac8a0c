"""uvicorn's HTTP/1.1 protocol (h11) with error answers in the service's JSON error shape.

A request the HTTP layer itself refuses (an oversized header or request line, malformed framing)
never reaches the application, and uvicorn answers it with a `text/plain` 400. Clients of these
APIs parse `{code, message}` bodies (PACT v3 for the gateway): `json_errors(...)` gives uvicorn a
protocol class whose 400 is JSON, with the connection closed as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator

import h11
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

#: message -> the JSON body of a 400 the HTTP layer produces
ErrorBody = Callable[[str], dict[str, str]]


def pact_error(message: str) -> dict[str, str]:
    return {"code": "BadRequest", "message": message}


def json_errors(body: ErrorBody = pact_error) -> type[H11Protocol]:
    """An H11Protocol subclass (for `uvicorn.Config(http=...)`) answering protocol errors as JSON."""

    class JsonErrorH11Protocol(H11Protocol):
        def send_400_response(self, msg: str) -> None:
            payload = json.dumps(body(f"invalid HTTP request: {msg}")).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ]
            self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
            self.transport.write(self.conn.send(h11.Data(data=payload)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
            self.transport.close()

    return JsonErrorH11Protocol


class RequestHeadLimit:
    """ASGI middleware: a request whose target (path and query) or header section is larger than
    `max_bytes` gets a JSON 400 before any routing or authentication.

    h11 refuses a head only while it is incomplete and over 16 KiB, so a large head that arrives in
    one read would pass; this bound holds however the bytes arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int = 16 * 1024, body: ErrorBody = pact_error) -> None:
        self.app, self.max_bytes, self.body = app, max_bytes, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            head = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))
            if target > self.max_bytes or head > self.max_bytes:
                what = "request target" if target > self.max_bytes else "header section"
                payload = json.dumps(self.body(f"the {what} is larger than {self.max_bytes} bytes")).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))],
                    }
                )
                await send({"type": "http.response.body", "body": payload})
                return
        await self.app(scope, receive, send)


class ServiceServer(uvicorn.Server):
    """uvicorn without signal handlers of its own: the service's one SIGTERM/SIGINT handler sets its
    stop event, and `serve_until` ends the server from it. (uvicorn >= 0.29 installs handlers in
    `serve()` through `capture_signals`.)"""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_until(server: uvicorn.Server, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then shut down gracefully (uvicorn drains open requests)."""

    async def watch() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        watcher.cancel()
