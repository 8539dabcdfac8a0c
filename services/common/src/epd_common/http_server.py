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
from collections.abc import Iterator

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from epd_common.http_limits import ErrorBody, pact_error


def json_errors(body: ErrorBody = pact_error) -> type[H11Protocol]:
    """An H11Protocol subclass (for `uvicorn.Config(http=...)`) answering protocol errors as JSON."""

    class JsonErrorH11Protocol(H11Protocol):
        def send_400_response(self, msg: str) -> None:
            payload = json.dumps(body("bad_request", f"invalid HTTP request: {msg}")).encode()
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
