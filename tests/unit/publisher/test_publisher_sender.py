"""The delivery sender's rules, driven through the in-memory DeliveryStore and a fake partner (httpx
MockTransport behind a PinnedClient), on a manual clock. No I/O: the SSRF guard runs with an injected
resolver, and the only waits are on conditions (bounded generously, to catch a hang)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from publisher_fakes import MemoryDeliveryStore, MockPinnedClient, StoredDelivery, StoredEndpoint
from standardwebhooks import Webhook

from epd.v1 import footprint_pb2
from epd_publisher import metrics
from epd_publisher.deliveries import PACT_EVENT, DeliveryState
from epd_publisher.delivery.breaker import BreakerBoard
from epd_publisher.delivery.retry import Action, RetryPolicy
from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn
from epd_publisher.sender import SECRET_RETRY_S, ManualClock, Sender, SenderConfig
from epd_records.errors import MappingError
from epd_records.recognition import DeliveryFormat

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
URL = "https://hooks.partner.example/events"
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
PUBLIC = "93.184.216.34"
HANG = 30.0  # seconds: only a hang takes this long


@pytest.fixture(scope="module")
def secrets() -> EndpointSecrets:
    return EndpointSecrets("unit-test-publisher-secret-key")


class Rendering:
    """RecordRendering: a record naming the version, or the failure of a record that cannot be made."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def renderers(self, fv, viewer):
        def render(version):
            if self.error is not None:
                raise self.error
            return {"id": version.pf_id, "provisional": viewer.accepts_provisional}

        return {DeliveryFormat.WEBHOOK_PACT: render, DeliveryFormat.WEBHOOK_OPENEPD: render}

    async def body_signature(self, body):
        return "detached-jws", "kid-1"


class Partner:
    """Answers the scripted statuses in order, then 204; keeps every request."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 204)


def change(product: str = "magnet-a", sequence: int = 1) -> bytes:
    return footprint_pb2.FootprintChanged(
        event_id=str(uuid.uuid4()),
        product_id=product,
        version=sequence,
        change_type=footprint_pb2.FOOTPRINT_CHANGE_TYPE_PUBLISHED,
        product_sequence=sequence,
        footprint=footprint_pb2.FootprintVersion(
            pf_id=f"urn:uuid:{uuid.uuid4()}", product_id=product, status=footprint_pb2.FOOTPRINT_STATUS_PUBLISHED
        ),
    ).SerializeToString()


def store_with(secrets: EndpointSecrets, partner: str, *, deliveries: int = 1, **endpoint) -> MemoryDeliveryStore:
    store = MemoryDeliveryStore()
    store.add_endpoint(
        StoredEndpoint(
            f"{partner}-hook",
            partner,
            URL,
            secret_sealed=secrets.seal(f"{partner}-hook", SecretColumn.WEBHOOK, SECRET),
            **endpoint,
        )
    )
    for i in range(deliveries):
        payload = change(sequence=i + 1)
        event_id = footprint_pb2.FootprintChanged.FromString(payload).event_id
        store.add_delivery(f"{partner}-hook", event_id, payload, NOW)
    return store


def sender(store, http, clock, secrets, *, rendering=None, **kw) -> Sender:
    return Sender(
        store,
        http,
        rendering or Rendering(),
        clock=clock,
        resolver=lambda host: [PUBLIC],
        rng=random.Random(7),
        secrets=secrets,
        **kw,
    )


def only(store: MemoryDeliveryStore) -> StoredDelivery:
    (delivery,) = store.deliveries.values()
    return delivery


def counted(counter, *labels: str) -> float:
    return counter.labels(*labels)._value.get()


async def test_delivered_signed_and_recorded(secrets):
    store, partner, clock = store_with(secrets, "jp-a"), Partner(), ManualClock(NOW)
    before = counted(metrics.DELIVERIES, "jp-a", "delivered")
    async with MockPinnedClient(partner) as http:
        assert await sender(store, http, clock, secrets).run_due() == 1
    (request,) = partner.requests
    Webhook(SECRET).verify(request.content, dict(request.headers))  # Standard Webhooks, the independent library
    body = json.loads(request.content)
    assert body["type"] == "footprint.published" and body["productSequence"] == 1
    assert request.headers["x-epd-signature"] == "detached-jws" and request.headers["x-epd-signature-kid"] == "kid-1"
    d = only(store)
    assert (d.state, d.attempts, d.first_attempt_at, d.finished_at, d.last_status) == (
        DeliveryState.DELIVERED,
        1,
        NOW,
        NOW,
        204,
    )
    ((attempt),) = store.attempts
    assert (attempt.attempt, attempt.status, attempt.action) == (1, 204, Action.DELIVERED)
    assert attempt.disable_endpoint is None and attempt.answer_sent is None
    assert counted(metrics.DELIVERIES, "jp-a", "delivered") == before + 1
    assert await store.next_due() is None


async def test_server_errors_are_retried_with_backoff_then_delivered(secrets):
    store, partner, clock = store_with(secrets, "jp-b"), Partner(503, 500), ManualClock(NOW)
    policy = RetryPolicy()
    async with MockPinnedClient(partner) as http:
        s = sender(store, http, clock, secrets, policy=policy)
        assert await s.run_due() == 1
        d = only(store)
        assert (d.state, d.attempts, d.last_status) == (DeliveryState.PENDING, 1, 503)
        first_wait = (d.next_attempt_at - NOW).total_seconds()
        assert policy.min_delay <= first_wait <= policy.delays[0]  # jittered, within the first step
        assert await s.run_due() == 0  # not due yet: nothing is claimed, nothing is sent
        assert await s.next_due() == d.next_attempt_at

        clock.advance(first_wait)
        assert await s.run_due() == 1
        assert (d.state, d.attempts, d.last_status) == (DeliveryState.PENDING, 2, 500)
        second_wait = (d.next_attempt_at - clock.now()).total_seconds()
        assert policy.min_delay <= second_wait <= policy.delays[1]

        clock.advance(second_wait)
        assert await s.run_due() == 1
    assert (d.state, d.attempts, d.first_attempt_at) == (DeliveryState.DELIVERED, 3, NOW)
    assert [(a.attempt, a.status, a.action) for a in store.attempts] == [
        (1, 503, Action.RETRY),
        (2, 500, Action.RETRY),
        (3, 204, Action.DELIVERED),
    ]
    assert len({r.headers["webhook-id"] for r in partner.requests}) == 1  # one id: the receiver dedupes


async def test_gone_disables_the_endpoint_and_its_pending_deliveries(secrets):
    store, partner, clock = store_with(secrets, "de-a", deliveries=3), Partner(410), ManualClock(NOW)
    async with MockPinnedClient(partner) as http:
        s = sender(store, http, clock, secrets, config=SenderConfig(concurrency=1))
        assert await s.run_due() == 1
        assert await s.run_due() == 0 and await s.next_due() is None
    assert len(partner.requests) == 1
    endpoint = store.endpoints["de-a-hook"]
    assert endpoint.disabled_at == NOW and "410" in (endpoint.disabled_reason or "")
    assert {d.state for d in store.deliveries.values()} == {DeliveryState.DISABLED}
    ((attempt),) = store.attempts
    assert attempt.action is Action.DISABLE_ENDPOINT and attempt.disable_endpoint == "de-a-hook"


async def test_a_render_failure_is_a_dead_letter_with_the_reason(secrets):
    store, partner, clock = store_with(secrets, "kr-a"), Partner(), ManualClock(NOW)
    before = counted(metrics.DEAD_LETTERS, "kr-a")
    rendering = Rendering(MappingError("the data owner cannot be named"))
    async with MockPinnedClient(partner) as http:
        assert await sender(store, http, clock, secrets, rendering=rendering).run_due() == 1
    assert partner.requests == []
    d = only(store)
    assert d.state is DeliveryState.DEAD and d.attempts == 1 and d.finished_at == NOW
    ((attempt),) = store.attempts
    assert attempt.action is Action.DEAD_LETTER and attempt.status is None and attempt.error is None
    assert attempt.reason.startswith("render: ") and "the data owner cannot be named" in attempt.reason
    assert counted(metrics.DEAD_LETTERS, "kr-a") == before + 1


async def test_a_stored_change_that_does_not_decode_is_a_dead_letter(secrets):
    store, partner, clock = store_with(secrets, "kr-b", deliveries=0), Partner(), ManualClock(NOW)
    store.add_delivery("kr-b-hook", str(uuid.uuid4()), b"\xff\xff not a protobuf", NOW)
    async with MockPinnedClient(partner) as http:
        await sender(store, http, clock, secrets).run_due()
    assert partner.requests == [] and only(store).state is DeliveryState.DEAD
    assert "not a FootprintChanged" in store.attempts[0].reason


async def test_an_open_breaker_defers_without_spending_an_attempt(secrets):
    store, partner, clock = store_with(secrets, "us-a", deliveries=2), Partner(500), ManualClock(NOW)
    breakers = BreakerBoard(failure_threshold=1, cool_down_seconds=60, clock=lambda: clock.now().timestamp())
    async with MockPinnedClient(partner) as http:
        s = sender(store, http, clock, secrets, breakers=breakers, config=SenderConfig(concurrency=1))
        assert await s.run_due() == 1  # the first delivery fails: the breaker opens
        first, second = store.deliveries.values()
        assert first.attempts == 1 and first.state is DeliveryState.PENDING
        assert await s.run_due() == 1  # the second is claimed, and deferred by the breaker
        assert len(partner.requests) == 1
        assert (second.state, second.attempts, second.next_attempt_at) == (
            DeliveryState.PENDING,
            0,
            NOW + timedelta(seconds=60),
        )
        assert store.attempts_of(second.delivery_id) == []

        clock.advance(60)  # half-open: probes go out, succeed, and close the breaker
        for _ in range(10):
            if not await s.run_due():
                break
    assert first.state is second.state is DeliveryState.DELIVERED
    assert (first.attempts, second.attempts) == (2, 1)


async def test_a_secret_that_does_not_decrypt_defers_without_spending_an_attempt(secrets):
    store, partner, clock = store_with(secrets, "jp-c"), Partner(), ManualClock(NOW)
    before = counted(metrics.SECRET_ERRORS, "jp-c")
    wrong = EndpointSecrets("another-publisher-secret-key")
    async with MockPinnedClient(partner) as http:
        assert await sender(store, http, clock, wrong).run_due() == 1
        d = only(store)
        assert partner.requests == []  # no unsigned request, none signed with garbage
        assert (d.state, d.attempts) == (DeliveryState.PENDING, 0) and store.attempts == []
        assert d.next_attempt_at == NOW + timedelta(seconds=SECRET_RETRY_S)
        assert counted(metrics.SECRET_ERRORS, "jp-c") == before + 1

        clock.advance(SECRET_RETRY_S)  # the key is corrected
        assert await sender(store, http, clock, secrets).run_due() == 1
    assert (d.state, d.attempts) == (DeliveryState.DELIVERED, 1) and len(partner.requests) == 1


async def test_a_claimed_delivery_is_leased_to_its_sender(secrets):
    store, clock = store_with(secrets, "fr-a"), ManualClock(NOW)
    arrived, release = asyncio.Event(), asyncio.Event()
    requests: list[httpx.Request] = []

    async def slow_partner(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        arrived.set()
        await release.wait()
        return httpx.Response(204)

    config = SenderConfig(lease_s=120)
    async with MockPinnedClient(slow_partner) as http_a, MockPinnedClient(slow_partner) as http_b:
        a = sender(store, http_a, clock, secrets, config=config)
        b = sender(store, http_b, clock, secrets, config=config)
        first = asyncio.create_task(a.run_due())
        await asyncio.wait_for(arrived.wait(), HANG)  # a holds the claim, mid-request
        d = only(store)
        assert d.next_attempt_at == NOW + timedelta(seconds=120) and d.attempts == 0
        assert await b.run_due() == 0  # leased: the other sender does not take it
        release.set()
        assert await asyncio.wait_for(first, HANG) == 1
    assert len(requests) == 1 and d.state is DeliveryState.DELIVERED


async def test_a_lease_ends_so_a_delivery_whose_sender_failed_comes_back(secrets):
    store, partner, clock = store_with(secrets, "fr-b"), Partner(), ManualClock(NOW)
    async with MockPinnedClient(partner) as http:
        broken = sender(store, http, clock, secrets, rendering=Rendering(RuntimeError("bug")))
        assert await broken.run_due() == 1  # logged; nothing recorded, the claim stays leased
        d = only(store)
        assert (d.state, d.attempts, d.next_attempt_at) == (DeliveryState.PENDING, 0, NOW + timedelta(seconds=120))
        healthy = sender(store, http, clock, secrets)
        assert await healthy.run_due() == 0 and await healthy.next_due() == d.next_attempt_at
        clock.advance(120)
        assert await healthy.run_due() == 1
    assert d.state is DeliveryState.DELIVERED and len(partner.requests) == 1


async def test_a_delivered_gateway_answer_is_marked_sent(secrets):
    store, clock = MemoryDeliveryStore(), ManualClock(NOW)
    store.add_endpoint(
        StoredEndpoint(
            "eu-pact",
            "eu-a",
            "https://pact.partner.example/3/events",
            format="pact",
            signing="none",
            token_url="https://pact.partner.example/auth/token",
            client_id="epd",
            client_secret_sealed=secrets.seal("eu-pact", SecretColumn.CLIENT, "s3cret"),
        )
    )
    answer_id = str(uuid.uuid4())
    answer = {"specversion": "1.0", "id": answer_id, "type": "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"}
    store.add_delivery("eu-pact", answer_id, json.dumps(answer).encode(), NOW, kind=PACT_EVENT)
    seen: list[httpx.Request] = []

    def pact_host(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "tok-1", "expires_in": 3600})
        return httpx.Response(200)

    async with MockPinnedClient(pact_host) as http:
        assert await sender(store, http, clock, secrets).run_due() == 1
    token, event = seen
    assert token.headers["authorization"] == "Basic " + base64.b64encode(b"epd:s3cret").decode()
    assert event.headers["authorization"] == "Bearer tok-1"
    assert event.headers["content-type"] == "application/cloudevents+json" and json.loads(event.content) == answer
    assert only(store).state is DeliveryState.DELIVERED and store.answers_sent == {answer_id: NOW}
