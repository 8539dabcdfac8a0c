"""Request limits enforced before any routing, authentication or parsing (ASGI middleware).

- `RequestHeadLimit`: the request target (path and query) and the header section are bounded.
- `RequestBodyLimit`: a body is refused by its Content-Length before a byte is kept, else counted
  while it streams in and refused at the first chunk past the limit; per-path limits (e.g. 4 KiB for
  a token endpoint). Before the refusal is sent, up to `drain_bytes` more of the body are read and
  discarded (a "lingering" read, as web servers do), so a client that sends its whole body before
  reading the answer gets the 413 instead of a reset connection; a larger body is cut off.
  A JSON body (`application/json`, `*+json`) is also refused when its nesting is
  deeper than `max_json_depth`, so no parser ever recurses on it. The app receives the (bounded)
  body as it came.

Errors are JSON in the service's own shape (`ErrorBody`): 413 too large, 400 too deep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: (reason, message) -> the JSON body of an error the limits produce, in the service's error shape
ErrorBody = Callable[[str, str], dict[str, Any]]

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_OPEN = frozenset(b"[{")


def pact_error(reason: str, message: str) -> dict[str, str]:
    """PACT v3 Error: every client error is BadRequest."""
    return {"code": "BadRequest", "message": message}


def coded_error(reason: str, message: str) -> dict[str, str]:
    """`{code, message}` with the reason as the code (the footprint admin API's shape)."""
    return {"code": reason, "message": message}


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings ignored); linear time."""
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(_STRING.sub(b'""', raw)):
        if bracket.group()[0] in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestHeadLimit:
    """A request whose target (path and query) or header section is larger than `max_bytes` gets a
    JSON 400 before any routing or authentication.

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
                message = f"the {what} is larger than {self.max_bytes} bytes"
                await _answer(send, 400, self.body("head_too_large", message))
                return
        await self.app(scope, receive, send)


class RequestBodyLimit:
    """Bounds request bodies (and JSON nesting) before the app sees them; see the module docstring.

    `limits` maps a path (exact) or a path prefix ending in "/" to its limit; other paths get
    `default_max`."""

    def __init__(
        self,
        app: ASGIApp,
        default_max: int,
        limits: Mapping[str, int] | None = None,
        max_json_depth: int = 64,
        body: ErrorBody = pact_error,
        drain_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.app, self.default_max, self.limits = app, default_max, dict(limits or {})
        self.max_json_depth, self.body, self.drain_bytes = max_json_depth, body, drain_bytes

    def limit_for(self, path: str) -> int:
        if path in self.limits:
            return self.limits[path]
        prefixes = [p for p in self.limits if p.endswith("/") and path.startswith(p)]
        return self.limits[max(prefixes, key=len)] if prefixes else self.default_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        headers = dict(scope.get("headers", ()))
        declared = headers.get(b"content-length")
        too_large = self.body("too_large", f"the request body is larger than {limit} bytes")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            if declared.isdigit() and int(declared) <= self.drain_bytes:
                await self._drain_impl(receive, self.drain_bytes)
            await _answer(send, 413, too_large)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                if more:
                    await self._drain_impl(receive, self.drain_bytes)
                await _answer(send, 413, too_large)
                return
            chunks.append(chunk)
        raw = b"".join(chunks)
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if (media == b"application/json" or media.endswith(b"+json")) and json_depth(raw) > self.max_json_depth:
            reason = f"JSON nested deeper than {self.max_json_depth} levels"
            await _answer(send, 400, self.body("too_deep", reason))
            return
        await self.app(scope, _replay([{"type": "http.request", "body": raw, "more_body": False}], receive), send)

    @staticmethod
    async def _drain_impl(receive: Receive, budget: int) -> None:
        """Read and discard the rest of a refused body, up to `budget` bytes (nothing is kept)."""
        read, more = 0, True
        while more and read <= budget:
            message = await receive()
            if message["type"] != "http.request":
                return
            read += len(message.get("body", b""))
            more = message.get("more_body", False)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive() that hands out `messages`, then defers to `then` (disconnects) if given."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
