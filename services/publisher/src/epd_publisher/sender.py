"""Partner delivery sender: claims due deliveries, renders, signs, POSTs, and records the outcome.

Per attempt: the endpoint's breaker is asked first (an open breaker defers the delivery without
spending an attempt); the URL is re-checked by the SSRF guard (DNS may have changed since
registration) and the connection goes to the addresses that check allowed (``delivery.pinning``:
no second DNS lookup, so no DNS rebinding); the body is rendered (a render failure is permanent:
dead letter with the reason);
Standard Webhooks headers are signed with wall-clock time; PACT endpoints get an OAuth2 bearer token
(client credentials). httpx never follows redirects. Endpoint secrets are stored encrypted
(endpoint_secrets.py) and opened per attempt: when they do not decrypt (a wrong
EPD_PUBLISHER_SECRET_KEY) the delivery is deferred by ``SECRET_RETRY_S`` without spending an attempt,
with an error log and ``epd_publisher_endpoint_secret_errors_total``, so fixing the key resumes it.
The RetryPolicy decides delivered / retry
(with Retry-After on 429/503) / disable (410) / dead letter. Every attempt is logged.

Scheduling uses the injected ``clock`` (tests fast-forward it); signatures use wall time, because the
receiver checks them against its own clock. Claims are leases (``next_attempt_at`` pushed forward),
so several senders can run and a killed sender's claims come back after the lease.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg
import httpx
from google.protobuf.message import DecodeError

from epd.v1 import footprint_pb2
from epd_common.signing_keys import SigningKeyError
from epd_publisher import metrics
from epd_publisher.delivery import ssrf
from epd_publisher.delivery.breaker import BreakerBoard
from epd_publisher.delivery.pinning import PinnedClient
from epd_publisher.delivery.retry import Action, AttemptResult, RetryPolicy, Step, TransportError
from epd_publisher.delivery.webhooks import Ed25519Signer, HmacSigner, Signer, sign_request, webhook_id
from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn, SecretKeyError
from epd_publisher.errors import PublisherError
from epd_publisher.oauth import TokenCache, TokenError
from epd_publisher.partners import guard
from epd_publisher.rendering import RecordRendering
from epd_records.delivery import CLOUDEVENTS_CONTENT_TYPE, render_for_endpoint
from epd_records.errors import RecordError
from epd_records.recognition import DeliveryFormat
from epd_records.status import Viewer

log = logging.getLogger(__name__)
PACT_EVENT = "pact-event"  # deliveries.kind of the gateway's answers to RequestCreated events
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


class PermanentDeliveryError(PublisherError):
    """A delivery that can never be made as stored (not the endpoint's fault): dead letter with the reason."""


@dataclass(frozen=True)
class SenderConfig:
    event_source: str = "//epd.example.cn/3/events"
    batch: int = 50
    concurrency: int = 16
    lease_s: float = 120.0
    timeout_s: float = 10.0


def signers_for(signing: str, secret: str | None) -> list[Signer]:
    if signing == "hmac":
        return [HmacSigner(secret or "")]
    if signing == "ed25519":
        return [Ed25519Signer(secret or "")]
    return []


def result_of_exception(exc: httpx.HTTPError) -> AttemptResult:
    if isinstance(exc, httpx.TimeoutException):
        return AttemptResult(error=TransportError.TIMEOUT)
    if isinstance(exc, httpx.ConnectError):
        return AttemptResult(error=TransportError.CONNECT)
    return AttemptResult(error=TransportError.PROTOCOL)


class Sender:
    def __init__(
        self,
        pool: asyncpg.Pool,
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
        self._pool = pool
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

    async def _claim(self) -> list[asyncpg.Record]:
        now = self.clock.now()
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT d.delivery_id, d.event_id::text AS event_id, d.partner_id, d.payload, d.attempts, d.kind,
                          d.first_attempt_at, e.endpoint_id, e.url, e.format, e.signing, e.secret_sealed, e.token_url,
                          e.client_id, e.client_secret_sealed, e.allow_private,
                          coalesce((p.agreement->>'accepts_provisional')::boolean, false) AS accepts_provisional
                   FROM deliveries d JOIN partner_endpoints e USING (endpoint_id)
                   JOIN partners p ON p.partner_id = d.partner_id
                   WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND e.disabled_at IS NULL
                   ORDER BY d.next_attempt_at, d.delivery_id LIMIT $2
                   FOR UPDATE OF d SKIP LOCKED""",
                now,
                self._config.batch,
            )
            if rows:
                await conn.execute(
                    "UPDATE deliveries SET next_attempt_at = $1 WHERE delivery_id = ANY($2::bigint[])",
                    now + timedelta(seconds=self._config.lease_s),
                    [r["delivery_id"] for r in rows],
                )
        return rows

    async def next_due(self) -> datetime | None:
        return await self._pool.fetchval(
            """SELECT min(d.next_attempt_at) FROM deliveries d JOIN partner_endpoints e USING (endpoint_id)
               WHERE d.state = 'pending' AND e.disabled_at IS NULL"""
        )

    async def run_due(self) -> int:
        """Handle every delivery due now (one claimed batch); returns how many were claimed."""
        rows = await self._claim()
        gate = asyncio.Semaphore(self._config.concurrency)

        async def one(row: asyncpg.Record) -> None:
            async with gate:
                try:
                    await self._deliver(row)
                except Exception:  # one broken delivery must not stop the others; its lease expires
                    log.exception("delivery failed unexpectedly", extra={"delivery_id": row["delivery_id"]})

        await asyncio.gather(*(one(r) for r in rows))
        return len(rows)

    async def _render(self, row: asyncpg.Record, signing_secret: str | None) -> tuple[bytes, dict[str, str]]:
        if row["kind"] == PACT_EVENT:
            # A gateway answer (pact_events.py): the CloudEvent as the gateway wrote it, to a PACT endpoint.
            if row["format"] != DeliveryFormat.PACT.value:
                raise PermanentDeliveryError("PACT answers go only to PACT endpoints")
            body, event_id = bytes(row["payload"]), row["event_id"]
            try:
                is_object = isinstance(json.loads(body), dict)
            except ValueError:
                is_object = False
            if not is_object:
                raise PermanentDeliveryError("the PACT answer is not a JSON object")
            content_type = CLOUDEVENTS_CONTENT_TYPE
        else:
            try:
                event = footprint_pb2.FootprintChanged.FromString(row["payload"])
            except DecodeError:
                raise PermanentDeliveryError("the stored change is not a FootprintChanged message") from None
            viewer = Viewer(accepts_provisional=row["accepts_provisional"])
            renderers = await self._rendering.renderers(event.footprint, viewer)
            rendered = render_for_endpoint(
                row["format"],
                event.footprint,
                event_id=event.event_id,
                change_type=event.change_type,
                source=self._config.event_source,
                time=self.clock.now(),
                renderers=renderers,
                product_sequence=event.product_sequence,
            )
            body, event_id, content_type = rendered.body, event.event_id, rendered.content_type
        signers = signers_for(row["signing"], signing_secret)
        headers = {"content-type": content_type}
        if signers:
            signed = sign_request(
                webhook_id(row["partner_id"], event_id),
                body,
                timestamp=int(time.time()),
                signers=signers,
                content_type=content_type,
            )
            headers = signed.headers
        signature, kid = await self._rendering.body_signature(body)
        return body, {**headers, "x-epd-signature": signature, "x-epd-signature-kid": kid}

    async def _post(
        self, row: asyncpg.Record, body: bytes, headers: dict[str, str], client_secret: str | None
    ) -> AttemptResult:
        try:
            self._http.pins.pin(await asyncio.to_thread(guard, row["url"], row["allow_private"], self._resolver))
        except ssrf.UnsafeUrlError:
            return AttemptResult(error=TransportError.REFUSED_BY_GUARD)
        if row["format"] == DeliveryFormat.PACT.value:
            try:
                self._http.pins.pin(
                    await asyncio.to_thread(guard, row["token_url"], row["allow_private"], self._resolver)
                )
                token = await self._tokens.get(
                    row["endpoint_id"], row["token_url"], row["client_id"], client_secret or ""
                )
            except ssrf.UnsafeUrlError:
                return AttemptResult(error=TransportError.REFUSED_BY_GUARD)
            except TokenError as exc:
                return exc.result
            headers = {**headers, "authorization": f"Bearer {token}"}
        try:
            response = await self._http.post(
                row["url"], content=body, headers=headers, follow_redirects=False, timeout=self._config.timeout_s
            )
        except httpx.HTTPError as exc:
            return result_of_exception(exc)
        return AttemptResult(status=response.status_code, retry_after=response.headers.get("retry-after"))

    async def _deliver(self, row: asyncpg.Record) -> None:
        now = self.clock.now()
        attempt = row["attempts"] + 1
        first = row["first_attempt_at"] or now
        started = time.perf_counter()
        try:
            signing_secret = self._secrets.open(row["endpoint_id"], SecretColumn.WEBHOOK, row["secret_sealed"])
            client_secret = self._secrets.open(row["endpoint_id"], SecretColumn.CLIENT, row["client_secret_sealed"])
            body, headers = await self._render(row, signing_secret)
        except (SecretKeyError, SigningKeyError) as exc:
            # A configuration fault (EPD_PUBLISHER_SECRET_KEY or EPD_RECORDS_KEY_SECRET), not the endpoint's or
            # the event's: keep the delivery and its budget.
            log.error(
                "a secret does not decrypt; delivery deferred",
                extra={"endpoint_id": row["endpoint_id"], "delivery_id": row["delivery_id"], "error": str(exc)},
            )
            metrics.SECRET_ERRORS.labels(row["partner_id"]).inc()
            await self._pool.execute(
                "UPDATE deliveries SET next_attempt_at = $1 WHERE delivery_id = $2",
                now + timedelta(seconds=SECRET_RETRY_S),
                row["delivery_id"],
            )
            return
        except (RecordError, PublisherError) as exc:  # MappingError, RenderError, WebhookSigningError, ...
            # Permanent and not the endpoint's fault: dead letter with the reason, breaker untouched.
            await self._record(
                row, attempt, first, now, AttemptResult(), Step(Action.DEAD_LETTER, f"render: {exc}"), started
            )
            return
        breaker = self.breakers.for_endpoint(row["endpoint_id"])
        if not breaker.allow():
            # Deferred without spending an attempt (the breaker's cool-down, at least one second).
            await self._pool.execute(
                "UPDATE deliveries SET next_attempt_at = $1 WHERE delivery_id = $2",
                now + timedelta(seconds=max(1.0, breaker.retry_in())),
                row["delivery_id"],
            )
            return
        result = await self._post(row, body, headers, client_secret)
        elapsed = (now - first).total_seconds()
        step = self._policy.next_step(attempt, result, elapsed=max(0.0, elapsed), now=now, rng=self._rng)
        if step.action is Action.DELIVERED:
            breaker.record_success()
        elif step.action is not Action.DISABLE_ENDPOINT:
            breaker.record_failure()
        if step.refresh_credentials:
            self._tokens.invalidate(row["endpoint_id"])
        await self._record(row, attempt, first, now, result, step, started)

    async def _record(
        self,
        row: asyncpg.Record,
        attempt: int,
        first: datetime,
        now: datetime,
        result: AttemptResult,
        step: Step,
        started: float,
    ) -> None:
        partner = row["partner_id"]
        state = {
            Action.DELIVERED: "delivered",
            Action.RETRY: "pending",
            Action.DEAD_LETTER: "dead",
            Action.DISABLE_ENDPOINT: "disabled",
        }[step.action]
        next_at = now + timedelta(seconds=step.delay_seconds)
        error = result.error.value if result.error else None
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE deliveries SET state = $2, attempts = $3, first_attempt_at = $4, next_attempt_at = $5,
                          last_status = $6, last_error = $7,
                          finished_at = CASE WHEN $2::text = 'pending' THEN NULL ELSE $8::timestamptz END
                   WHERE delivery_id = $1""",
                row["delivery_id"],
                state,
                attempt,
                first,
                next_at,
                result.status,
                error or step.reason[:500],
                now,
            )
            await conn.execute(
                """INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, status, error, action, reason,
                                                  duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                row["delivery_id"],
                attempt,
                now,
                result.status,
                error,
                step.action.value,
                step.reason[:1000],
                int((time.perf_counter() - started) * 1000),
            )
            if step.action is Action.DELIVERED and row["kind"] == PACT_EVENT:
                await conn.execute(
                    "UPDATE gateway_outgoing_events SET sent_at = $2 WHERE event_id = $1::uuid AND sent_at IS NULL",
                    row["event_id"],
                    now,
                )
            if step.action is Action.DISABLE_ENDPOINT:
                await conn.execute(
                    """UPDATE partner_endpoints SET disabled_at = $2, disabled_reason = $3
                       WHERE endpoint_id = $1 AND disabled_at IS NULL""",
                    row["endpoint_id"],
                    now,
                    step.reason,
                )
                await conn.execute(
                    """UPDATE deliveries SET state = 'disabled', finished_at = $2
                       WHERE endpoint_id = $1 AND state = 'pending'""",
                    row["endpoint_id"],
                    now,
                )
        metrics.ATTEMPTS.labels(partner, _result_label(result)).inc()
        if step.action is not Action.RETRY:
            metrics.DELIVERIES.labels(partner, state).inc()
        if step.action is Action.DELIVERED and row["kind"] != PACT_EVENT:
            _observe_delivery_freshness(row["payload"])
        if step.action is Action.DEAD_LETTER:
            metrics.DEAD_LETTERS.labels(partner).inc()

    async def run(self, stop: asyncio.Event, idle_s: float = 0.5) -> None:
        while not stop.is_set():
            try:
                claimed = await self.run_due()
            except (OSError, asyncpg.PostgresError) as exc:
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
