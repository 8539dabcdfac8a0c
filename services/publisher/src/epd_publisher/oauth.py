"""OAuth2 client-credentials tokens for PACT partners (RFC 6749 section 4.4), cached per endpoint.

PACT v3 hosts authenticate callers with a bearer token from their token endpoint; the publisher
obtains one with its client id and secret (HTTP Basic), caches it until shortly before
``expires_in`` and drops it when the partner answers 401/403.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from epd_publisher.delivery.pinning import PIN_POLICY, Policy
from epd_publisher.delivery.retry import AttemptResult, TransportError
from epd_publisher.errors import PublisherError

DEFAULT_LIFETIME_S = 300.0
EARLY_REFRESH_S = 30.0
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024  # a token response is a small JSON object


class TokenError(PublisherError):
    """The token request failed; ``result`` is what the attempt counts as."""

    def __init__(self, result: AttemptResult, reason: str) -> None:
        super().__init__(reason)
        self.result = result


class TokenCache:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float],
        timeout_s: float = 10.0,
        max_body_bytes: int = MAX_TOKEN_RESPONSE_BYTES,
    ) -> None:
        self._http = http
        self._clock = clock
        self._timeout = timeout_s
        self._max_body = max_body_bytes
        self._tokens: dict[str, tuple[str, float]] = {}

    def invalidate(self, endpoint_id: str) -> None:
        self._tokens.pop(endpoint_id, None)

    async def get(
        self, endpoint_id: str, token_url: str, client_id: str, client_secret: str, *, policy: Policy = Policy.PUBLIC
    ) -> str:
        cached = self._tokens.get(endpoint_id)
        if cached and cached[1] > self._clock():
            return cached[0]
        try:
            async with self._http.stream(
                "POST",
                token_url,
                data={"grant_type": "client_credentials"},
                auth=(client_id, client_secret),
                # Raw bytes under a cap: no compressed body that inflates past it.
                headers={"accept": "application/json", "accept-encoding": "identity"},
                follow_redirects=False,
                timeout=self._timeout,
                extensions={PIN_POLICY: policy},
            ) as response:
                status, retry_after = response.status_code, response.headers.get("retry-after")
                raw = await self._read_capped(response) if status == 200 else b""
        except httpx.TimeoutException:
            raise TokenError(AttemptResult(error=TransportError.TIMEOUT), "token endpoint timed out") from None
        except httpx.HTTPError:
            raise TokenError(AttemptResult(error=TransportError.CONNECT), "token endpoint unreachable") from None
        if status != 200:
            raise TokenError(AttemptResult(status=status, retry_after=retry_after), f"token endpoint answered {status}")
        if raw is None:
            raise TokenError(AttemptResult(error=TransportError.PROTOCOL), "token response larger than the cap")
        try:
            doc = json.loads(raw)
            token = doc["access_token"]
            lifetime = float(doc.get("expires_in", DEFAULT_LIFETIME_S))
        except (ValueError, KeyError, TypeError):
            raise TokenError(AttemptResult(error=TransportError.PROTOCOL), "token response is not valid") from None
        if not isinstance(token, str) or not token or len(token) > 8192 or any(ord(c) < 0x21 for c in token):
            raise TokenError(AttemptResult(error=TransportError.PROTOCOL), "access_token is not a usable string")
        self._tokens[endpoint_id] = (token, self._clock() + max(0.0, lifetime - EARLY_REFRESH_S))
        return token

    async def _read_capped(self, response: httpx.Response) -> bytes | None:
        """The body as sent, or None when it is larger than the cap (the rest is not read)."""
        if response.is_stream_consumed:  # built in memory (httpx.MockTransport)
            return response.content if len(response.content) <= self._max_body else None
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self._max_body:
                return None
        return bytes(body)
