"""In-memory stand-ins for the publisher's ports, with the rules of their PostgreSQL adapters
(pg_deliveries.py, pg_partners.py, outbox.py), a producer whose acks the test controls, and a fake
partner behind a PinnedClient (httpx.MockTransport). No I/O."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from epd_publisher.deliveries import FOOTPRINT_CHANGE, AttemptRecord, ClaimSlots, DeliveryState, DueDelivery
from epd_publisher.delivery.pinning import PIN_POLICY, AddressPins, PinnedClient, Policy
from epd_publisher.fanout import NewDelivery, PartnerTargets
from epd_publisher.outbox import OutboxRow


@dataclass
class StoredEndpoint:
    endpoint_id: str
    partner_id: str
    url: str
    format: str = "webhook-pact"
    signing: str = "hmac"
    secret_sealed: bytes | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret_sealed: bytes | None = None
    allow_private: bool = False
    accepts_provisional: bool = False  # the partner's agreement, joined in by the claim
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


@dataclass
class StoredDelivery:
    delivery_id: int
    event_id: str
    endpoint_id: str
    partner_id: str
    payload: bytes
    next_attempt_at: datetime
    kind: str = FOOTPRINT_CHANGE
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    first_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    finished_at: datetime | None = None


@dataclass
class MemoryDeliveryStore:
    """deliveries.DeliveryStore over dicts. Claims are leases, as in PostgreSQL (ranked per partner, chosen
    by ClaimSlots); defer and record act only while the lease is held; calls never interleave (no await
    inside a method), which stands in for the row locks."""

    endpoints: dict[str, StoredEndpoint] = field(default_factory=dict)
    deliveries: dict[int, StoredDelivery] = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    answers_sent: dict[str, datetime] = field(default_factory=dict)
    disabled_partners: set[str] = field(default_factory=set)
    retryable: tuple[type[Exception], ...] = (OSError,)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add_endpoint(self, endpoint: StoredEndpoint) -> StoredEndpoint:
        self.endpoints[endpoint.endpoint_id] = endpoint
        return endpoint

    def add_delivery(self, endpoint_id: str, event_id: str, payload: bytes, due: datetime, **kw) -> StoredDelivery:
        endpoint = self.endpoints[endpoint_id]
        d = StoredDelivery(next(self._ids), event_id, endpoint_id, endpoint.partner_id, payload, due, **kw)
        self.deliveries[d.delivery_id] = d
        return d

    def attempts_of(self, delivery_id: int) -> list[AttemptRecord]:
        return [a for a in self.attempts if a.delivery_id == delivery_id]

    async def claim(self, now: datetime, lease_until: datetime, slots: ClaimSlots) -> list[DueDelivery]:
        due = sorted(
            (
                d
                for d in self.deliveries.values()
                if d.state is DeliveryState.PENDING
                and d.next_attempt_at <= now
                and self.endpoints[d.endpoint_id].disabled_at is None
                and d.partner_id not in self.disabled_partners
            ),
            key=lambda d: (d.next_attempt_at, d.delivery_id),
        )
        ranks: dict[str, int] = {}
        ranked = []
        for d in due:  # rank within the partner, oldest due first (the SQL's row_number)
            ranks[d.partner_id] = ranks.get(d.partner_id, 0) + 1
            ranked.append((ranks[d.partner_id], d))
        ranked = [r for r in sorted(ranked, key=lambda r: (r[0], r[1].next_attempt_at, r[1].delivery_id))]
        ranked = [r for r in ranked if r[0] <= slots.per_partner]
        chosen = [ranked[i][1] for i in slots.choose([(rank, d.partner_id) for rank, d in ranked])]
        for d in chosen:
            d.next_attempt_at = lease_until
        return [self._due(d, lease_until) for d in chosen]

    def _held(self, delivery_id: int, lease_until: datetime) -> bool:
        d = self.deliveries[delivery_id]
        return d.state is DeliveryState.PENDING and d.next_attempt_at == lease_until

    def _due(self, d: StoredDelivery, lease_until: datetime) -> DueDelivery:
        e = self.endpoints[d.endpoint_id]
        return DueDelivery(
            delivery_id=d.delivery_id,
            event_id=d.event_id,
            partner_id=d.partner_id,
            kind=d.kind,
            payload=d.payload,
            attempts=d.attempts,
            first_attempt_at=d.first_attempt_at,
            accepts_provisional=e.accepts_provisional,
            endpoint_id=e.endpoint_id,
            url=e.url,
            format=e.format,
            signing=e.signing,
            secret_sealed=e.secret_sealed,
            token_url=e.token_url,
            client_id=e.client_id,
            client_secret_sealed=e.client_secret_sealed,
            allow_private=e.allow_private,
            lease_until=lease_until,
        )

    async def next_due(self) -> datetime | None:
        due = [
            d.next_attempt_at
            for d in self.deliveries.values()
            if d.state is DeliveryState.PENDING
            and self.endpoints[d.endpoint_id].disabled_at is None
            and d.partner_id not in self.disabled_partners
        ]
        return min(due, default=None)

    async def defer(self, delivery_id: int, lease_until: datetime, until: datetime) -> bool:
        if not self._held(delivery_id, lease_until):
            return False
        self.deliveries[delivery_id].next_attempt_at = until
        return True

    async def record(self, attempt: AttemptRecord) -> bool:
        if not self._held(attempt.delivery_id, attempt.lease_until):
            return False
        d = self.deliveries[attempt.delivery_id]
        d.state, d.attempts = attempt.state, attempt.attempt
        d.first_attempt_at, d.next_attempt_at = attempt.first_attempt_at, attempt.next_attempt_at
        d.last_status, d.last_error = attempt.status, attempt.error or attempt.reason[:500]
        d.finished_at = None if attempt.state is DeliveryState.PENDING else attempt.attempted_at
        self.attempts.append(attempt)
        if attempt.answer_sent is not None:
            self.answers_sent.setdefault(attempt.answer_sent, attempt.attempted_at)
        if attempt.disable_endpoint is not None:
            endpoint = self.endpoints[attempt.disable_endpoint]
            if endpoint.disabled_at is None:
                endpoint.disabled_at, endpoint.disabled_reason = attempt.attempted_at, attempt.reason
            for other in self.deliveries.values():
                if other.endpoint_id == endpoint.endpoint_id and other.state is DeliveryState.PENDING:
                    other.state, other.finished_at = DeliveryState.DISABLED, attempt.attempted_at
        return True


@dataclass
class MemoryFanoutStore:
    """fanout.FanoutStore over a list of targets and a dict of deliveries, unique per (event, endpoint)."""

    partner_targets: list[PartnerTargets] = field(default_factory=list)
    created: dict[tuple[str, str], NewDelivery] = field(default_factory=dict)

    async def targets(self) -> list[PartnerTargets]:
        return list(self.partner_targets)

    async def create_delivery(self, delivery: NewDelivery) -> bool:
        key = (delivery.event_id, delivery.endpoint_id)
        if key in self.created:
            return False
        self.created[key] = delivery
        return True


Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class MockPinnedClient(PinnedClient):
    """A PinnedClient whose network is ``httpx.MockTransport(handler)``. Like the real one, it refuses a
    host no SSRF guard check pinned (so the sender's guard run is part of what the tests see); the
    sender still accepts only PinnedClient instances."""

    def __init__(self, handler: Handler) -> None:
        self.pins = AddressPins()

        async def checked(request: httpx.Request) -> httpx.Response:
            if self.pins.addresses(request.url.host, Policy(request.extensions.get(PIN_POLICY, Policy.PUBLIC))) is None:
                raise httpx.ConnectError(f"{request.url.host} was not checked by the SSRF guard", request=request)
            response = handler(request)
            return response if isinstance(response, httpx.Response) else await response

        httpx.AsyncClient.__init__(
            self, transport=httpx.MockTransport(checked), follow_redirects=False, trust_env=False
        )


@dataclass
class MemoryOutbox:
    """relay.Outbox over a list of rows. A batch commits its marks when its block exits normally and
    discards them when it raises (as the PostgreSQL transaction rolls back)."""

    rows: list[OutboxRow] = field(default_factory=list)
    published: list[int] = field(default_factory=list)  # outbox ids, in commit order
    retryable: tuple[type[Exception], ...] = (OSError,)

    def unpublished(self) -> list[OutboxRow]:
        return [r for r in self.rows if r.outbox_id not in self.published]

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[_MemoryOutboxBatch]:
        batch = _MemoryOutboxBatch(self)
        yield batch
        self.published.extend(batch.marked)

    async def oldest_unpublished_age(self) -> float:
        return 0.0


@dataclass
class _MemoryOutboxBatch:
    outbox: MemoryOutbox
    marked: list[int] = field(default_factory=list)

    async def claim_products(self, max_products: int) -> list[str]:
        return list(dict.fromkeys(r.product_id for r in self.outbox.unpublished()))[:max_products]

    async def publishable_rows(self, products: list[str], max_rows: int) -> list[OutboxRow]:
        rows = [r for r in self.outbox.unpublished() if r.product_id in products]
        return sorted(rows, key=lambda r: (r.product_id, r.product_sequence))[:max_rows]

    async def mark_published(self, rows: list[OutboxRow]) -> None:
        self.marked.extend(r.outbox_id for r in rows)


class HeldAcks:
    """A TopicProducer whose acknowledgements the test gives (``ack_all``) or refuses (``fail_all``)."""

    def __init__(self, *, auto_ack: bool = True) -> None:
        self.auto_ack = auto_ack
        self.sent: list[tuple[str | None, str, Any, list[tuple[str, bytes]]]] = []
        self.pending: list[asyncio.Future] = []
        self.queued = asyncio.Event()  # set on every send

    async def send(self, spec, key, message, headers=None, topic=None) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.sent.append((topic, key, message, list(headers or ())))
        if self.auto_ack:
            future.set_result(None)
        else:
            self.pending.append(future)
        self.queued.set()
        return future

    def ack_all(self) -> None:
        for future in self.pending:
            future.set_result(None)

    def fail_all(self, exc: Exception) -> None:
        for future in self.pending:
            future.set_exception(exc)
