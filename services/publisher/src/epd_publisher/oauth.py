"""OAuth2 client-credentials tokens for PACT partners (RFC 6749 section 4.4), cached per endpoint.

PACT v3 hosts authenticate callers with a bearer token from their token endpoint; the publisher
obtains one with its client id and secret (HTTP Basic), caches it until shortly before
``expires_in`` and drops it when the partner answers 401/403.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from epd_publisher.delivery.pinning import PIN_POLICY, Policy
from epd_publisher.delivery.retry import AttemptResult, TransportError
from epd_publisher.errors import PublisherError

DEFAULT_LIFETIME_S = 300.0
EARLY_REFRESH_S = 30.0


class TokenError(PublisherError):
    """The token request failed; ``result`` is what the attempt counts as."""

    def __init__(self, result: AttemptResult, reason: str) -> None:
        super().__init__(reason)
        self.result = result


class TokenCache:
    def __init__(self, http: httpx.AsyncClient, *, clock: Callable[[], float], timeout_s: float = 10.0) -> None:
        self._http = http
        self._clock = clock
        self._timeout = timeout_s
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
            response = await self._http.post(
                token_url,
                data={"grant_type": "client_credentials"},
                auth=(client_id, client_secret),
                headers={"accept": "application/json"},
                follow_redirects=False,
                timeout=self._timeout,
                extensions={PIN_POLICY: policy},
            )
        except httpx.TimeoutException:
            raise TokenError(AttemptResult(error=TransportError.TIMEOUT), "token endpoint timed out") from None
        except httpx.HTTPError:
            raise TokenError(AttemptResult(error=TransportError.CONNECT), "token endpoint unreachable") from None
        if response.status_code != 200:
            raise TokenError(
                AttemptResult(status=response.status_code, retry_after=response.headers.get("retry-after")),
                f"token endpoint answered {response.status_code}",
            )
        try:
            doc = response.json()
            token = doc["access_token"]
            lifetime = float(doc.get("expires_in", DEFAULT_LIFETIME_S))
        except (ValueError, KeyError, TypeError):
            raise TokenError(AttemptResult(error=TransportError.PROTOCOL), "token response is not valid") from None
        if not isinstance(token, str) or not token or len(token) > 8192 or any(ord(c) < 0x21 for c in token):
            raise TokenError(AttemptResult(error=TransportError.PROTOCOL), "access_token is not a usable string")
        self._tokens[endpoint_id] = (token, self._clock() + max(0.0, lifetime - EARLY_REFRESH_S))
        return token
