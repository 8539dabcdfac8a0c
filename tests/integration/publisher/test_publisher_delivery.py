"""Partner delivery against real HTTP receivers on 127.0.0.1 (aiohttp) and the real database:
Standard Webhooks signatures verified by the independent ``standardwebhooks`` library, 500-then-recover
delivered exactly once per webhook-id, 410 disables, SSRF refusal at registration, dead letters and
replay, and the PACT OAuth2 + CloudEvent path."""

from __future__ import annotations

import base64
import json
import random
import time
from datetime import datetime

import asyncpg
import pytest
from aiohttp import web
from publisher_helpers import (
    MAGNET,
    add_product,
    commit_version,
    endpoint_secrets,
    http_server,
    seed_registry,
    signed_records,
)
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from epd.v1 import footprint_pb2
from epd_publisher.delivery.pinning import PIN_POLICY, PinnedClient, Policy
from epd_publisher.delivery.retry import RetryPolicy
from epd_publisher.delivery.ssrf import UnsafeUrlError
from epd_publisher.delivery.webhooks import HmacSigner, sign_request
from epd_publisher.partners import EndpointSpec, add_endpoint, add_partner, fan_out, load_targets, replay_dead_letters
from epd_publisher.pg_deliveries import PgDeliveryStore
from epd_publisher.sender import ManualClock, Sender, SenderConfig
from epd_records.recognition import DeliveryFormat, PcrRule, RecognitionAgreement, Standard

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def agreement(partner_id: str, pcr: str = "PCR-magnets") -> RecognitionAgreement:
    return RecognitionAgreement(
        partner_id=partner_id,
        product_classes=("hs:8505",),
        pcrs=(PcrRule(pcr_id=pcr),),
        standards=frozenset({Standard.EN_15804_A2}),
    )


class Receiver:
    """Verifies every POST with the standardwebhooks library; rejects replayed ids; scripted statuses."""

    def __init__(self, secret: str = SECRET, statuses: list[int] | None = None) -> None:
        self.webhook = Webhook(secret)
        self.statuses = list(statuses or [])
        self.accepted: list[str] = []
        self.requests: list[tuple[bytes, dict]] = []
        self.rejected: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append((body, headers))
        if self.statuses:
            return web.Response(status=self.statuses.pop(0))
        try:
            self.webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            self.rejected.append(str(exc))
            return web.json_response({"error": str(exc)}, status=400)
        if headers["webhook-id"] in self.accepted:
            self.rejected.append("replayed id")
            return web.json_response({"error": "replayed webhook-id"}, status=409)
        self.accepted.append(headers["webhook-id"])
        return web.Response(status=204)


@pytest.fixture
async def db(fresh_db):
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=8)
    await seed_registry(pool)
    yield pool
    await pool.close()


async def plan(pool: asyncpg.Pool, now: datetime) -> int:
    """Fan the outbox's events out (the worker does this from the change feed)."""
    targets = await load_targets(pool)
    created = 0
    async with pool.acquire() as conn:
        for row in await conn.fetch("SELECT payload FROM outbox ORDER BY outbox_id"):
            created += await fan_out(conn, footprint_pb2.FootprintChanged.FromString(row["payload"]), targets, now)
    return created


async def drain(sender: Sender, clock: ManualClock, max_rounds: int = 500) -> None:
    """Run due deliveries, fast-forwarding the clock to the next due time, until none is pending."""
    for _ in range(max_rounds):
        if await sender.run_due():
            continue
        due = await sender.next_due()
        if due is None:
            return
        clock.advance(max(0.0, (due - clock.now()).total_seconds()) + 0.001)
    raise AssertionError("deliveries still pending")


def sender_for(pool, http, clock, **kw) -> Sender:
    return Sender(
        PgDeliveryStore(pool),
        http,
        signed_records(pool),
        clock=clock,
        rng=random.Random(7),
        config=SenderConfig(timeout_s=5),
        secrets=endpoint_secrets(),
        **kw,
    )


async def test_signed_webhooks_verify_and_recognition_filters(db):
    for product, classes, pcr in (
        ("magnet-a", MAGNET, "PCR-magnets"),
        ("magnet-b", MAGNET, "PCR-other"),
        ("oxide-a", ("hs:2846.90",), "PCR-magnets"),
    ):
        await add_product(db, product, classes, (pcr, "1.0"))
        for _ in range(2):
            await commit_version(db, product)
    receiver = Receiver()
    async with http_server(receiver.handle) as base, PinnedClient() as http:
        await add_partner(db, "jp-body", "Japan body", "JP", agreement("jp-body"))
        await add_endpoint(
            db,
            EndpointSpec(
                "jp-hook", "jp-body", f"{base}/hooks", DeliveryFormat.WEBHOOK_PACT, secret=SECRET, allow_private=True
            ),
            secrets=endpoint_secrets(),
        )
        clock = ManualClock()
        assert await plan(db, clock.now()) == 2  # only magnet-a under PCR-magnets is recognised
        await drain(sender_for(db, http, clock), clock)
        assert len(receiver.accepted) == 2 and not receiver.rejected
        delivered = [json.loads(body) for body, _ in receiver.requests]
        assert {d["data"]["productIds"][0].rsplit(":", 1)[-1] for d in delivered} == {"magnet-a"}
        assert all(d["type"] == "footprint.published" for d in delivered)

        body, headers = receiver.requests[0]
        verifier = Webhook(SECRET)
        with pytest.raises(WebhookVerificationError):  # tampered body
            verifier.verify(body.replace(b"magnet-a", b"magnet-x"), headers)
        old = sign_request(headers["webhook-id"], body, timestamp=int(time.time()) - 3600, signers=[HmacSigner(SECRET)])
        with pytest.raises(WebhookVerificationError):  # correctly signed, but an hour old
            verifier.verify(body, old.headers)
        own_host = {PIN_POLICY: Policy.OWN_HOST_ALLOWED}  # the endpoint's pin (registered with allow_private)
        replay = await http.post(f"{base}/hooks", content=body, headers=headers, extensions=own_host)  # replayed id
        assert replay.status_code == 409 and receiver.rejected == ["replayed id"]


async def test_failing_endpoint_recovers_and_gets_each_event_once(db):
    await add_product(db, "magnet-a")
    for _ in range(5):
        await commit_version(db, "magnet-a")
    receiver = Receiver(statuses=[500] * 12)
    async with http_server(receiver.handle) as base, PinnedClient() as http:
        await add_partner(db, "kr-body", "Korea body", "KR", agreement("kr-body"))
        await add_endpoint(
            db,
            EndpointSpec(
                "kr-hook", "kr-body", f"{base}/in", DeliveryFormat.WEBHOOK_OPENEPD, secret=SECRET, allow_private=True
            ),
            secrets=endpoint_secrets(),
        )
        clock = ManualClock()
        await plan(db, clock.now())
        await plan(db, clock.now())  # a re-consumed event creates no second delivery
        sender = sender_for(db, http, clock)
        await drain(sender, clock)
    assert len(receiver.accepted) == 5 == len(set(receiver.accepted))
    states = await db.fetch("SELECT state, attempts FROM deliveries")
    assert {r["state"] for r in states} == {"delivered"} and len(states) == 5
    attempts = await db.fetchval("SELECT count(*) FROM delivery_attempts WHERE status = 500")
    assert attempts == 12
    assert max(r["attempts"] for r in states) > 1


async def test_gone_endpoint_is_disabled(db):
    await add_product(db, "magnet-a")
    for _ in range(3):
        await commit_version(db, "magnet-a")
    receiver = Receiver(statuses=[410] * 10)
    async with http_server(receiver.handle) as base, PinnedClient() as http:
        await add_partner(db, "de-body", "German body", "DE", agreement("de-body"))
        await add_endpoint(
            db,
            EndpointSpec(
                "de-hook", "de-body", f"{base}/gone", DeliveryFormat.WEBHOOK_PACT, secret=SECRET, allow_private=True
            ),
            secrets=endpoint_secrets(),
        )
        clock = ManualClock()
        await plan(db, clock.now())
        sender = sender_for(
            db,
            http,
            clock,
        )
        sender._config = SenderConfig(timeout_s=5, concurrency=1)
        await drain(sender, clock)
    endpoint = await db.fetchrow("SELECT disabled_at, disabled_reason FROM partner_endpoints")
    assert endpoint["disabled_at"] is not None and "410" in endpoint["disabled_reason"]
    assert len(receiver.requests) == 1
    assert {r["state"] for r in await db.fetch("SELECT state FROM deliveries")} == {"disabled"}


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "http://10.0.0.1/x",
        "https://2130706433/",
        "https://[::1]/hooks",
    ],
)
async def test_private_endpoints_are_refused_at_registration(db, url):
    await add_partner(db, "fr-body", "French body", "FR", agreement("fr-body"))
    with pytest.raises(UnsafeUrlError):
        await add_endpoint(
            db,
            EndpointSpec("fr-hook", "fr-body", url, DeliveryFormat.WEBHOOK_PACT, secret=SECRET),
            secrets=endpoint_secrets(),
        )
    assert await db.fetchval("SELECT count(*) FROM partner_endpoints") == 0


async def test_dead_letters_are_replayed(db):
    await add_product(db, "magnet-a")
    await commit_version(db, "magnet-a")
    receiver = Receiver(statuses=[503] * 3)
    async with http_server(receiver.handle) as base, PinnedClient() as http:
        await add_partner(db, "us-body", "US body", "US", agreement("us-body"))
        await add_endpoint(
            db,
            EndpointSpec(
                "us-hook", "us-body", f"{base}/in", DeliveryFormat.WEBHOOK_PACT, secret=SECRET, allow_private=True
            ),
            secrets=endpoint_secrets(),
        )
        clock = ManualClock()
        await plan(db, clock.now())
        sender = sender_for(db, http, clock, policy=RetryPolicy(delays=(1, 2), cap=2, horizon=3))
        await drain(sender, clock)
        assert await db.fetchval("SELECT state FROM deliveries") == "dead"
        assert await replay_dead_letters(db, clock.now(), partner_id="us-body") == 1
        await drain(sender, clock)
    assert await db.fetchval("SELECT state FROM deliveries") == "delivered"
    assert len(receiver.accepted) == 1


async def test_pact_partner_gets_cloudevent_with_oauth_token(db):
    await add_product(db, "magnet-a")
    await commit_version(db, "magnet-a")
    seen: dict[str, list] = {"token": [], "events": []}

    async def handle(request: web.Request) -> web.Response:
        if request.path == "/auth/token":
            form = await request.post()
            seen["token"].append((request.headers.get("authorization"), form.get("grant_type")))
            return web.json_response({"access_token": "tok-123", "token_type": "bearer", "expires_in": 3600})
        seen["events"].append(
            (
                request.headers.get("authorization"),
                request.headers.get("content-type"),
                json.loads(await request.read()),
            )
        )
        return web.Response(status=200)

    async with http_server(handle) as base, PinnedClient() as http:
        await add_partner(db, "eu-body", "EU body", "BE", agreement("eu-body"))
        await add_endpoint(
            db,
            EndpointSpec(
                "eu-pact",
                "eu-body",
                f"{base}/3/events",
                DeliveryFormat.PACT,
                signing="none",
                token_url=f"{base}/auth/token",
                client_id="epd",
                client_secret="s3cret",
                allow_private=True,
            ),
            secrets=endpoint_secrets(),
        )
        clock = ManualClock()
        await plan(db, clock.now())
        await drain(sender_for(db, http, clock), clock)
    basic = "Basic " + base64.b64encode(b"epd:s3cret").decode()
    assert seen["token"] == [(basic, "client_credentials")]
    ((auth, ctype, event),) = seen["events"]
    pf_id = await db.fetchval("SELECT pf_id::text FROM epd_versions")
    assert auth == "Bearer tok-123" and ctype == "application/cloudevents+json"
    assert event["type"] == "org.wbcsd.pact.ProductFootprint.PublishedEvent.3" and event["data"] == {"pfIds": [pf_id]}
