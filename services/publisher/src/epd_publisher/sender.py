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

Partners are isolated from each other: the sender claims only what it can start at once (``concurrency``
in flight in all, ``partner_concurrency`` per partner) and starts each claimed delivery as its own task,
so nothing waits in a local queue while its lease runs, and a slow partner holds its own slots only:
the others' deliveries are claimed and sent as their slots free. Each attempt's HTTP exchange has one
total deadline and a response-body cap (partner_http.py).

Scheduling uses the injected ``clock`` (tests fast-forward it); signatures use wall time, because the
receiver checks them against its own clock. Claims are leases (``next_attempt_at`` pushed forward by
``lease_s``), so several senders can run and a killed sender's claims come back after the lease. Every
write checks the lease (deliveries.py): a sender whose lease ran out writes nothing, so it can neither
record a second outcome for a delivery another sender took nor turn ``delivered`` back into ``pending``;
and an attempt starts only while the lease outlasts its deadline (``lease_s`` must exceed the deadline).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from epd_common.signing_keys import SigningKeyError
from epd_publisher import metrics
from epd_publisher.clock import Clock, SystemClock
from epd_publisher.clock import ManualClock as ManualClock  # re-exported: tests drive the sender with it
from epd_publisher.deliveries import (
    PACT_EVENT,
    STATE_AFTER,
    AttemptRecord,
    ClaimSlots,
    DeliveryStore,
    DueDelivery,
)
from epd_publisher.delivery import ssrf
from epd_publisher.delivery.breaker import BreakerBoard
from epd_publisher.delivery.pinning import PinnedClient
from epd_publisher.delivery.retry import Action, AttemptResult, RetryPolicy, Step
from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn, SecretKeyError
from epd_publisher.errors import PublisherError
from epd_publisher.oauth import TokenCache
from epd_publisher.outgoing import build_request
from epd_publisher.partner_http import PartnerHttp
from epd_publisher.rendering import RecordRendering
from epd_records.errors import RecordError

log = logging.getLogger(__name__)
SECRET_RETRY_S = 300.0  # a delivery whose endpoint secret does not decrypt waits this long (no attempt spent)


@dataclass(frozen=True)
class SenderConfig:
    event_source: str = "//epd.example.cn/3/events"
    concurrency: int = 16  # deliveries in flight, all partners together
    partner_concurrency: int = 4  # deliveries in flight per partner
    lease_s: float = 120.0
    timeout_s: float = 10.0  # total deadline of one attempt's HTTP exchange (partner_http.py)
    max_response_bytes: int = 64 * 1024  # response body read at most

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.partner_concurrency < 1:
            raise ValueError("concurrency and partner_concurrency must be at least 1")
        if self.lease_s <= self.timeout_s:
            raise ValueError("lease_s must be longer than timeout_s (an attempt must end before its lease)")


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
        self._rng = rng or random.Random()
        self._config = config
        self._secrets = secrets
        tokens = TokenCache(http, clock=lambda: self.clock.now().timestamp(), timeout_s=config.timeout_s)
        self.partner_http = PartnerHttp(
            http, tokens, resolver, deadline_s=config.timeout_s, max_body_bytes=config.max_response_bytes
        )
        self._tokens = tokens
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._busy: dict[str, int] = {}  # partner -> deliveries in flight
        self._finished = asyncio.Event()  # set whenever a delivery ends (a slot is free)

    async def next_due(self) -> datetime | None:
        return await self._store.next_due()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def dispatch(self) -> int:
        """Claim what there are free slots for and start each claimed delivery; returns how many started."""
        free = self._config.concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        now = self.clock.now()
        slots = ClaimSlots(free, self._config.partner_concurrency, dict(self._busy))
        claimed = await self._store.claim(now, now + timedelta(seconds=self._config.lease_s), slots)
        for delivery in claimed:
            self._busy[delivery.partner_id] = self._busy.get(delivery.partner_id, 0) + 1
            self._in_flight[delivery.delivery_id] = asyncio.create_task(
                self._one(delivery), name=f"delivery-{delivery.delivery_id}"
            )
        return len(claimed)

    async def _one(self, delivery: DueDelivery) -> None:
        try:
            await self._deliver(delivery)
        except Exception:  # one broken delivery must not stop the others; its lease expires
            log.exception("delivery failed unexpectedly", extra={"delivery_id": delivery.delivery_id})
        finally:
            del self._in_flight[delivery.delivery_id]
            left = self._busy[delivery.partner_id] - 1
            if left:
                self._busy[delivery.partner_id] = left
            else:
                del self._busy[delivery.partner_id]
            self._finished.set()

    async def drain(self) -> None:
        """Wait until every started delivery has ended."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def run_due(self) -> int:
        """One round: claim what there are slots for, deliver it, wait for the end; returns how many were claimed."""
        started = await self.dispatch()
        await self.drain()
        return started

    async def _post(
        self, delivery: DueDelivery, body: bytes, headers: dict[str, str], client_secret: str | None
    ) -> AttemptResult:
        return await self.partner_http.post(delivery, body, headers, client_secret)

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
            await self._defer(delivery, now + timedelta(seconds=SECRET_RETRY_S))
            return
        except (RecordError, PublisherError) as exc:  # MappingError, RenderError, WebhookSigningError, ...
            # Permanent and not the endpoint's fault: dead letter with the reason, breaker untouched.
            step = Step(Action.DEAD_LETTER, f"render: {exc}")
            await self._finish(delivery, attempt, first, now, AttemptResult(), step, started)
            return
        breaker = self.breakers.for_endpoint(delivery.endpoint_id)
        if not breaker.allow():
            # Deferred without spending an attempt (the breaker's cool-down, at least one second).
            await self._defer(delivery, now + timedelta(seconds=max(1.0, breaker.retry_in())))
            return
        if self.clock.now() + timedelta(seconds=self._config.timeout_s) > delivery.lease_until:
            # The lease would end mid-attempt and another sender could take the delivery: give it back.
            await self._defer(delivery, self.clock.now())
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
        recorded = await self._store.record(
            AttemptRecord(
                delivery_id=delivery.delivery_id,
                lease_until=delivery.lease_until,
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
        if not recorded:
            self._lease_lost(delivery, f"attempt {attempt} ({step.action.value}) not recorded")
            return
        metrics.ATTEMPTS.labels(partner, metrics.attempt_label(result)).inc()
        if step.action is not Action.RETRY:
            metrics.DELIVERIES.labels(partner, state.value).inc()
        if step.action is Action.DELIVERED and delivery.kind != PACT_EVENT:
            metrics.observe_delivery_freshness(delivery.payload)
        if step.action is Action.DEAD_LETTER:
            metrics.DEAD_LETTERS.labels(partner).inc()

    async def _defer(self, delivery: DueDelivery, until: datetime) -> None:
        if not await self._store.defer(delivery.delivery_id, delivery.lease_until, until):
            self._lease_lost(delivery, "not deferred")

    def _lease_lost(self, delivery: DueDelivery, what: str) -> None:
        metrics.LEASES_LOST.labels(delivery.partner_id).inc()
        log.warning(
            "delivery lease ran out before its outcome was written; another sender owns it now",
            extra={"delivery_id": delivery.delivery_id, "partner_id": delivery.partner_id, "what": what},
        )

    async def run(self, stop: asyncio.Event, idle_s: float = 0.5) -> None:
        """Until ``stop``: start due deliveries whenever slots are free; then let the started ones end
        (each within its deadline)."""
        try:
            while not stop.is_set():
                self._finished.clear()
                try:
                    started = await self.dispatch()
                except self._store.retryable as exc:
                    log.warning("claiming deliveries failed, retrying", extra={"error": str(exc)})
                    started = 0
                if not started:  # wait for a free slot, new due deliveries (polled) or the stop
                    await _first(stop, self._finished, idle_s)
        finally:
            await self.drain()


async def _first(stop: asyncio.Event, finished: asyncio.Event, timeout_s: float) -> None:
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(finished.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
