"""One delivery attempt's HTTP exchange with a partner, bounded in time and in bytes.

- The SSRF guard runs again (DNS may have changed since registration) and its addresses are pinned for
  the endpoint's policy (``delivery.pinning``: per host and policy, no second DNS lookup).
- PACT endpoints get an OAuth2 bearer token (client credentials) first, checked and pinned the same way.
- The whole exchange (the guard's DNS lookups, the token request, connect, upload, status, headers and
  the response body) runs under ONE deadline, ``deadline_s``: httpx's timeouts bound each read, so a
  partner that drips a byte now and then would otherwise hold an attempt for as long as it likes.
- A response body is read raw (no decompression) and at most ``max_body_bytes`` of it: only the status
  and ``Retry-After`` decide the outcome; the rest of a larger body is never read (the connection is
  closed instead of reused).
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from epd_publisher.deliveries import DueDelivery
from epd_publisher.delivery import ssrf
from epd_publisher.delivery.pinning import PIN_POLICY, PinnedClient, Policy
from epd_publisher.delivery.retry import AttemptResult, TransportError
from epd_publisher.oauth import TokenCache, TokenError
from epd_publisher.partners import guard
from epd_records.recognition import DeliveryFormat

log = logging.getLogger(__name__)


def result_of_exception(exc: httpx.HTTPError) -> AttemptResult:
    if isinstance(exc, httpx.TimeoutException):
        return AttemptResult(error=TransportError.TIMEOUT)
    if isinstance(exc, httpx.ConnectError):
        return AttemptResult(error=TransportError.CONNECT)
    return AttemptResult(error=TransportError.PROTOCOL)


class PartnerHttp:
    def __init__(
        self,
        http: PinnedClient,
        tokens: TokenCache,
        resolver: ssrf.Resolver,
        *,
        deadline_s: float,
        max_body_bytes: int,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self._resolver = resolver
        self._deadline_s = deadline_s
        self._max_body = max_body_bytes
        self.truncated = 0  # responses whose body was larger than the cap (tests, logs)

    async def post(
        self, delivery: DueDelivery, body: bytes, headers: dict[str, str], client_secret: str | None
    ) -> AttemptResult:
        """POST ``body`` to the delivery's endpoint; every failure becomes the attempt's result."""
        try:
            async with asyncio.timeout(self._deadline_s):
                return await self._exchange(delivery, body, headers, client_secret)
        except TimeoutError:
            return AttemptResult(error=TransportError.TIMEOUT)

    async def _exchange(
        self, delivery: DueDelivery, body: bytes, headers: dict[str, str], client_secret: str | None
    ) -> AttemptResult:
        policy = Policy.of(delivery.allow_private)
        try:
            self.http.pins.pin(await self._guard(delivery.url, delivery.allow_private), policy)
        except ssrf.UnsafeUrlError:
            return AttemptResult(error=TransportError.REFUSED_BY_GUARD)
        if delivery.format == DeliveryFormat.PACT.value:
            try:
                token_url = delivery.token_url or ""  # never empty for PACT endpoints (registration, table CHECK)
                self.http.pins.pin(await self._guard(token_url, delivery.allow_private), policy)
                token = await self.tokens.get(
                    delivery.endpoint_id, token_url, delivery.client_id or "", client_secret or "", policy=policy
                )
            except ssrf.UnsafeUrlError:
                return AttemptResult(error=TransportError.REFUSED_BY_GUARD)
            except TokenError as exc:
                return exc.result
            headers = {**headers, "authorization": f"Bearer {token}"}
        try:
            async with self.http.stream(
                "POST",
                delivery.url,
                content=body,
                headers=headers,
                follow_redirects=False,
                timeout=self._deadline_s,
                extensions={PIN_POLICY: policy},
            ) as response:
                await self._read_capped(response, delivery)
                return AttemptResult(status=response.status_code, retry_after=response.headers.get("retry-after"))
        except httpx.HTTPError as exc:
            return result_of_exception(exc)

    async def _guard(self, url: str, allow_private: bool) -> ssrf.GuardedUrl:
        return await asyncio.to_thread(guard, url, allow_private, self._resolver)

    async def _read_capped(self, response: httpx.Response, delivery: DueDelivery) -> None:
        if response.is_stream_consumed:  # built in memory (httpx.MockTransport): nothing left to read
            return
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > self._max_body:
                self.truncated += 1
                log.warning(
                    "partner response body larger than the cap; the rest is not read",
                    extra={"endpoint_id": delivery.endpoint_id, "cap_bytes": self._max_body},
                )
                return
