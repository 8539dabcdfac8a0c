"""The forwarder of the gateway's PACT answers (real PostgreSQL, real HTTP receiver on 127.0.0.1):
an answer waits while its partner has no PACT endpoint and is never sent to a webhook endpoint;
an answer the partner keeps refusing ends in the dead letters and is replayed from there."""

from __future__ import annotations

import base64
import json
import random
import uuid

import asyncpg
import pytest
from aiohttp import web
from publisher_helpers import endpoint_secrets, http_server, seed_registry, signed_records

from epd_publisher import pact_events
from epd_publisher.delivery.pinning import PinnedClient
from epd_publisher.delivery.retry import RetryPolicy
from epd_publisher.partners import EndpointSpec, add_endpoint, add_partner, replay_dead_letters
from epd_publisher.pg_deliveries import PgDeliveryStore
from epd_publisher.sender import ManualClock, Sender, SenderConfig
from epd_records.recognition import DeliveryFormat, PcrRule, RecognitionAgreement, Standard

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
async def db(fresh_db):
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=4)
    await seed_registry(pool)
    await add_partner(
        pool,
        "jp-body",
        "JP body",
        "JP",
        RecognitionAgreement(
            partner_id="jp-body",
            product_classes=("hs:8505",),
            pcrs=(PcrRule(pcr_id="PCR-magnets"),),
            standards=frozenset({Standard.EN_15804_A2}),
        ),
    )
    yield pool
    await pool.close()


async def answer(pool: asyncpg.Pool) -> uuid.UUID:
    event_id = uuid.uuid4()
    body = {
        "type": "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3",
        "specversion": "1.0",
        "id": str(event_id),
        "source": "//epd.example.cn/3/events",
        "time": "2026-01-01T00:00:00Z",
        "data": {"requestEventId": "r-1", "error": {"code": "NotFound", "message": "no footprint"}},
    }
    await pool.execute(
        """INSERT INTO gateway_outgoing_events (event_id, partner_id, client_id, request_event_id,
                          event_type, body) VALUES ($1, 'jp-body', 'jp-client', 'r-1', $2, $3::jsonb)""",
        event_id,
        body["type"],
        json.dumps(body),
    )
    return event_id


async def drain(sender: Sender, clock: ManualClock) -> None:
    for _ in range(200):
        if await sender.run_due():
            continue
        due = await sender.next_due()
        if due is None:
            return
        clock.advance(max(0.0, (due - clock.now()).total_seconds()) + 0.001)


async def test_answer_waits_for_a_pact_endpoint_and_skips_webhooks(db):
    event_id = await answer(db)
    clock = ManualClock()
    await add_endpoint(
        db,
        EndpointSpec(
            "jp-hook",
            "jp-body",
            "http://127.0.0.1:9/hooks",
            DeliveryFormat.WEBHOOK_PACT,
            secret=SECRET,
            allow_private=True,
        ),
        secrets=endpoint_secrets(),
    )
    assert await pact_events.forward(db, clock.now()) == 0
    assert pact_events.WAITING._value.get() == 1
    await add_endpoint(
        db,
        EndpointSpec(
            "jp-pact",
            "jp-body",
            "http://127.0.0.1:9/3/events",
            DeliveryFormat.PACT,
            signing="none",
            token_url="http://127.0.0.1:9/auth/token",
            client_id="c",
            client_secret="s",
            allow_private=True,
        ),
        secrets=endpoint_secrets(),
    )
    assert await pact_events.forward(db, clock.now()) == 1
    rows = await db.fetch("SELECT endpoint_id, kind FROM deliveries WHERE event_id = $1", event_id)
    assert [(r["endpoint_id"], r["kind"]) for r in rows] == [("jp-pact", "pact-event")]
    assert pact_events.WAITING._value.get() == 0


async def test_refused_answer_is_dead_lettered_and_replayed(db):
    event_id = await answer(db)
    statuses = [400, 400, 400]
    received: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        if request.path == "/auth/token":
            return web.json_response({"access_token": "t", "expires_in": 600})
        received.append(json.loads(await request.read()))
        return web.Response(status=statuses.pop(0) if statuses else 200)

    async with http_server(handle) as base, PinnedClient() as http:
        await add_endpoint(
            db,
            EndpointSpec(
                "jp-pact",
                "jp-body",
                f"{base}/3/events",
                DeliveryFormat.PACT,
                signing="none",
                token_url=f"{base}/auth/token",
                client_id="c",
                client_secret="s",
                allow_private=True,
            ),
            secrets=endpoint_secrets(),
        )
        clock = ManualClock()
        await pact_events.forward(db, clock.now())
        sender = Sender(
            PgDeliveryStore(db),
            http,
            signed_records(db),
            clock=clock,
            rng=random.Random(1),
            policy=RetryPolicy(delays=(1, 2), cap=2, horizon=3),
            config=SenderConfig(timeout_s=5),
            secrets=endpoint_secrets(),
        )
        await drain(sender, clock)
        assert await db.fetchval("SELECT state FROM deliveries") == "dead"
        assert await db.fetchval("SELECT sent_at FROM gateway_outgoing_events") is None
        assert await replay_dead_letters(db, clock.now(), partner_id="jp-body") == 1
        await drain(sender, clock)
    assert await db.fetchval("SELECT state FROM deliveries") == "delivered"
    assert await db.fetchval("SELECT sent_at FROM gateway_outgoing_events WHERE event_id = $1", event_id)
    assert received[-1]["id"] == str(event_id) and received[-1]["data"]["requestEventId"] == "r-1"
