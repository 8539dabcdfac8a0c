"""Partner delivery sender: claims due deliveries, renders, signs, POSTs, and records the outcome.

The use case runs against deliveries.DeliveryStore (PostgreSQL: pg_deliveries.py). Per claimed delivery:
the endpoint's secrets are opened and the request is built (outgoing.py); when a secret does not decrypt
(a wrong EPD_PUBLISHER_SECRET_KEY or EPD_RECORDS_KEY_SECRET) the delivery is deferred by ``SECRET_RETRY_S``
without spending an attempt, with an error log and ``epd_publisher_endpoint_secret_errors_total``, so
fixing the key resumes it; a render failure is permanent: dead letter with the reason. Then the
endpoint's breaker is asked (an open breaker defers the delivery without spending an attempt); the URL
is re-checked by the SSRF guard (DNS may have changed since registration) and the connection goes to
the addresses that check allowed (``delivery.pinning``: no second DNS lookup, so no DNS rebinding);
PACT endpoints get an OAuth2 bearer token (client credentials). httpx never follows redirects. The
RetryPolicy decides delivered / retry (with Retry-After on 429/503) / disable (410: the endpoint and
its pending deliveries) / dead letter. Every attempt is recorded.

Scheduling uses the injected ``clock`` (tests fast-forward it); signatures use wall time, because the
receiver checks them against its own clock. Claims are leases (``next_attempt_at`` pushed forward by
``lease_s``), so several senders can run and a killed sender's claims come back after the lease.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
from google.protobuf.message import DecodeError

from epd.v1 import footprint_pb2
from epd_common.signing_keys import SigningKeyError
from epd_publisher import metrics
from epd_publisher.deliveries import PACT_EVENT, STATE_AFTER, AttemptRecord, DeliveryStore, DueDelivery
from epd_publisher.delivery import ssrf
from epd_publisher.delivery.breaker import BreakerBoard
from epd_publisher.delivery.pinning import PIN_POLICY, PinnedClient, Policy
from epd_publisher.delivery.retry import Action, AttemptResult, RetryPolicy, Step, TransportError
from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn, SecretKeyError
from epd_publisher.errors import PublisherError
from epd_publisher.oauth import TokenCache, TokenError
from epd_publisher.outgoing import build_request
from epd_publisher.partners import guard
from epd_publisher.rendering import RecordRendering
from epd_records.errors import RecordError
from epd_records.recognition import DeliveryFormat

log = logging.getLogger(__name__)
SECRET_RETRY_S = 300.0  # a delivery whose endpoint secret does not decrypt waits this long (no attempt spent)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass(frozen=True)
class SenderConfig:
    event_source: str = "//epd.example.cn/3/events"
    batch: int = 50
    concurrency: int = 16
    lease_s: float = 120.0
    timeout_s: float = 10.0


def result_of_exception(exc: httpx.HTTPError) -> AttemptResult:
    if isinstance(exc, httpx.TimeoutException):
        return AttemptResult(error=TransportError.TIMEOUT)
    if isinstance(exc, httpx.ConnectError):
        return AttemptResult(error=TransportError.CONNECT)
    return AttemptResult(error=TransportError.PROTOCOL)


class Sender:
    def __init__(
        self,
        store: DeliveryStore,
        http: PinnedClient,
        rendering: RecordRendering,
        *,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        breakers: BreakerBoard | None = None,
        resolver: ssrf.Resolver = ssrf.system_resolver,
        rng: random.Random | None = None,
        config: SenderConfig = SenderConfig(),
        secrets: EndpointSecrets,
    ) -> None:
        if not isinstance(http, PinnedClient):
            # A plain client would resolve partner hosts again after the SSRF check (DNS rebinding).
            raise TypeError("the sender needs an epd_publisher.delivery.pinning.PinnedClient")
        self._store: DeliveryStore = store
        self._http = http
        self._rendering = rendering
        self.clock = clock or SystemClock()
        self._policy = policy or RetryPolicy()
        self.breakers = breakers or BreakerBoard(clock=lambda: self.clock.now().timestamp())
        self._resolver = resolver
        self._rng = rng or random.Random()
        self._config = config
        self._secrets = secrets
        self._tokens = TokenCache(http, clock=lambda: self.clock.now().timestamp(), timeout_s=config.timeout_s)

    async def next_due(self) -> datetime | None:
        return await self._store.next_due()

    async def run_due(self) -> int:
        """Handle every delivery due now (one claimed batch); returns how many were claimed."""
        now = self.clock.now()
        claimed = await self._store.claim(now, now + timedelta(seconds=self._config.lease_s), self._config.batch)
        gate = asyncio.Semaphore(self._config.concurrency)

        async def one(delivery: DueDelivery) -> None:
            async with gate:
                try:
                    await self._deliver(delivery)
                except Exception:  # one broken delivery must not stop the others; its lease expires
                    log.exception("delivery failed unexpectedly", extra={"delivery_id": delivery.delivery_id})

        await asyncio.gather(*(one(d) for d in claimed))
        return len(claimed)

    async def _post(
        self, delivery: DueDelivery, body: bytes, headers: dict[str, str], client_secret: str | None
    ) -> AttemptResult:
        policy = Policy.of(delivery.allow_private)  # pins (and pooled connections) per host AND policy
        try:
            checked = await asyncio.to_thread(guard, delivery.url, delivery.allow_private, self._resolver)
            self._http.pins.pin(checked, policy)
        except ssrf.UnsafeUrlError:
            return AttemptResult(error=TransportError.REFUSED_BY_GUARD)
        if delivery.format == DeliveryFormat.PACT.value:
            try:
                token_url = delivery.token_url or ""  # never empty for PACT endpoints (registration, table CHECK)
                checked = await asyncio.to_thread(guard, token_url, delivery.allow_private, self._resolver)
                self._http.pins.pin(checked, policy)
                token = await self._tokens.get(
                    delivery.endpoint_id, token_url, delivery.client_id or "", client_secret or "", policy=policy
                )
            except ssrf.UnsafeUrlError:
                return AttemptResult(error=TransportError.REFUSED_BY_GUARD)
            except TokenError as exc:
                return exc.result
            headers = {**headers, "authorization": f"Bearer {token}"}
        try:
            response = await self._http.post(
                delivery.url,
                content=body,
                headers=headers,
                follow_redirects=False,
                timeout=self._config.timeout_s,
                extensions={PIN_POLICY: policy},
            )
        except httpx.HTTPError as exc:
            return result_of_exception(exc)
        return AttemptResult(status=response.status_code, retry_after=response.headers.get("retry-after"))

    async def _deliver(self, delivery: DueDelivery) -> None:
        now = self.clock.now()
        attempt = delivery.attempts + 1
        first = delivery.first_attempt_at or now
        started = time.perf_counter()
        try:
            signing_secret = self._secrets.open(delivery.endpoint_id, SecretColumn.WEBHOOK, delivery.secret_sealed)
            client_secret = self._secrets.open(delivery.endpoint_id, SecretColumn.CLIENT, delivery.client_secret_sealed)
            body, headers = await build_request(
                delivery, self._rendering, signing_secret, event_source=self._config.event_source, now=now
            )
        except (SecretKeyError, SigningKeyError) as exc:
            # A configuration fault (EPD_PUBLISHER_SECRET_KEY or EPD_RECORDS_KEY_SECRET), not the endpoint's or
            # the event's: keep the delivery and its budget.
            log.error(
                "a secret does not decrypt; delivery deferred",
                extra={"endpoint_id": delivery.endpoint_id, "delivery_id": delivery.delivery_id, "error": str(exc)},
            )
            metrics.SECRET_ERRORS.labels(delivery.partner_id).inc()
            await self._store.defer(delivery.delivery_id, now + timedelta(seconds=SECRET_RETRY_S))
            return
        except (RecordError, PublisherError) as exc:  # MappingError, RenderError, WebhookSigningError, ...
            # Permanent and not the endpoint's fault: dead letter with the reason, breaker untouched.
            step = Step(Action.DEAD_LETTER, f"render: {exc}")
            await self._finish(delivery, attempt, first, now, AttemptResult(), step, started)
            return
        breaker = self.breakers.for_endpoint(delivery.endpoint_id)
        if not breaker.allow():
            # Deferred without spending an attempt (the breaker's cool-down, at least one second).
            await self._store.defer(delivery.delivery_id, now + timedelta(seconds=max(1.0, breaker.retry_in())))
            return
        result = await self._post(delivery, body, headers, client_secret)
        elapsed = (now - first).total_seconds()
        step = self._policy.next_step(attempt, result, elapsed=max(0.0, elapsed), now=now, rng=self._rng)
        if step.action is Action.DELIVERED:
            breaker.record_success()
        elif step.action is not Action.DISABLE_ENDPOINT:
            breaker.record_failure()
        if step.refresh_credentials:
            self._tokens.invalidate(delivery.endpoint_id)
        await self._finish(delivery, attempt, first, now, result, step, started)

    async def _finish(
        self,
        delivery: DueDelivery,
        attempt: int,
        first: datetime,
        now: datetime,
        result: AttemptResult,
        step: Step,
        started: float,
    ) -> None:
        """Record the attempt and what it decided; a 410 (or an SSRF refusal) disables the endpoint, and a
        delivered gateway answer is marked sent."""
        state = STATE_AFTER[step.action]
        delivered_answer = step.action is Action.DELIVERED and delivery.kind == PACT_EVENT
        await self._store.record(
            AttemptRecord(
                delivery_id=delivery.delivery_id,
                attempt=attempt,
                attempted_at=now,
                first_attempt_at=first,
                duration_ms=int((time.perf_counter() - started) * 1000),
                status=result.status,
                error=result.error.value if result.error else None,
                action=step.action,
                reason=step.reason,
                state=state,
                next_attempt_at=now + timedelta(seconds=step.delay_seconds),
                disable_endpoint=delivery.endpoint_id if step.action is Action.DISABLE_ENDPOINT else None,
                answer_sent=delivery.event_id if delivered_answer else None,
            )
        )
        partner = delivery.partner_id
        metrics.ATTEMPTS.labels(partner, _result_label(result)).inc()
        if step.action is not Action.RETRY:
            metrics.DELIVERIES.labels(partner, state.value).inc()
        if step.action is Action.DELIVERED and delivery.kind != PACT_EVENT:
            _observe_delivery_freshness(delivery.payload)
        if step.action is Action.DEAD_LETTER:
            metrics.DEAD_LETTERS.labels(partner).inc()

    async def run(self, stop: asyncio.Event, idle_s: float = 0.5) -> None:
        while not stop.is_set():
            try:
                claimed = await self.run_due()
            except self._store.retryable as exc:
                log.warning("sender batch failed, retrying", extra={"error": str(exc)})
                claimed = 0
            if not claimed:
                try:
                    await asyncio.wait_for(stop.wait(), idle_s)
                except TimeoutError:
                    pass


def _result_label(result: AttemptResult) -> str:
    """Bounded label: 2xx/3xx/4xx/5xx, a transport error name, or 'none' (render failures)."""
    if result.status:
        return f"{result.status // 100}xx"
    return result.error.value if result.error else "none"


def _observe_delivery_freshness(payload: bytes) -> None:
    """Version created -> delivered, from the event's footprint.created_at (wall clock, not the test clock)."""
    try:
        created = footprint_pb2.FootprintChanged.FromString(payload).footprint.created_at
    except DecodeError:
        return
    if created.seconds:
        metrics.DELIVERY_FRESHNESS.observe(max(0.0, time.time() - created.ToNanoseconds() / 1e9))
