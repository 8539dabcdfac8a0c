"""A partner's RequestCreated event, answered by the real gateway, reaches the partner's own /3/events
endpoint (a real HTTP receiver on 127.0.0.1, allow-listed) through the publisher: OAuth2 token,
retry after a 503, one attempt-log row per try, gateway_outgoing_events.sent_at set once delivered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from datetime import UTC, datetime

import asyncpg
from aiohttp import web
from gateway_seed import OXIDE, add_product, add_version

from epd_publisher import pact_events
from epd_publisher.delivery.pinning import PinnedClient
from epd_publisher.endpoint_secrets import EndpointSecrets
from epd_publisher.partners import EndpointSpec, add_endpoint
from epd_publisher.pg_deliveries import PgDeliveryStore
from epd_publisher.sender import ManualClock, Sender, SenderConfig
from epd_records.recognition import DeliveryFormat
from tests.integration.publisher.publisher_helpers import signed_records


@contextlib.asynccontextmanager
async def receiver(handler):
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


async def test_request_fulfilled_reaches_the_requesters_events_endpoint(gateway, db):
    pf_id = await add_version(db, await add_product(db, "ndpr-oxide", OXIDE))
    seen: dict[str, list] = {"token": [], "events": []}
    statuses = [503]

    async def handle(request: web.Request) -> web.Response:
        if request.path == "/auth/token":
            seen["token"].append(request.headers.get("authorization"))
            return web.json_response({"access_token": "partner-a-token", "expires_in": 3600})
        seen["events"].append(
            (
                request.headers.get("authorization"),
                request.headers.get("content-type"),
                json.loads(await request.read()),
            )
        )
        return web.Response(status=statuses.pop(0) if statuses else 200)

    pool = await asyncpg.create_pool(gateway.dsn, min_size=1, max_size=4)
    try:
        async with receiver(handle) as base, PinnedClient() as http:
            secrets = EndpointSecrets("integration-test-publisher-secret-key")
            await add_endpoint(
                pool,
                EndpointSpec(
                    "partner-a-pact",
                    "partner-a",
                    f"{base}/3/events",
                    DeliveryFormat.PACT,
                    signing="none",
                    token_url=f"{base}/auth/token",
                    client_id="epd",
                    client_secret="s3cret",
                    allow_private=True,
                ),
                secrets=secrets,
            )
            token = await gateway.token("a")
            request_id = str(uuid.uuid4())
            async with gateway.client(
                headers={"authorization": f"Bearer {token}", "content-type": "application/cloudevents+json"}
            ) as gw:
                r = await gw.post(
                    "/3/events",
                    content=json.dumps(
                        {
                            "type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
                            "specversion": "1.0",
                            "id": request_id,
                            "source": "https://partner-a.example/pact",
                            "time": datetime.now(UTC).isoformat(),
                            "data": {"productId": ["urn:pact:epd.example.cn:product-id:ndpr-oxide"]},
                        }
                    ),
                )
                assert r.status_code == 200, r.text
            async with asyncio.timeout(120):  # the gateway's request worker answers asynchronously
                # a row written by the gateway process: polled, there is no event to wait on
                while not await pool.fetchval("SELECT count(*) FROM gateway_outgoing_events"):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            clock = ManualClock()
            assert await pact_events.forward(pool, clock.now()) == 1
            assert await pact_events.forward(pool, clock.now()) == 0  # handed over once
            sender = Sender(
                PgDeliveryStore(pool),
                http,
                signed_records(pool),
                clock=clock,
                rng=random.Random(3),
                config=SenderConfig(timeout_s=5),
                secrets=secrets,
            )
            for _ in range(20):
                if not await sender.run_due():
                    due = await sender.next_due()
                    if due is None:
                        break
                    clock.advance(max(0.0, (due - clock.now()).total_seconds()) + 0.001)
    finally:
        row = await pool.fetchrow(
            "SELECT o.sent_at, d.state, d.kind, d.attempts FROM gateway_outgoing_events o "
            "JOIN deliveries d USING (event_id)"
        )
        attempts = await pool.fetch("SELECT status, action FROM delivery_attempts ORDER BY attempt")
        await pool.close()
    assert seen["token"] and all(t.startswith("Basic ") for t in seen["token"])
    assert len(seen["events"]) == 2  # 503, then delivered
    auth, ctype, event = seen["events"][-1]
    assert auth == "Bearer partner-a-token" and ctype == "application/cloudevents+json"
    assert event["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert event["data"]["requestEventId"] == request_id
    assert [pf["id"] for pf in event["data"]["pfs"]] == [str(pf_id)]
    assert row["state"] == "delivered" and row["kind"] == "pact-event" and row["attempts"] == 2
    assert row["sent_at"] is not None
    assert [(a["status"], a["action"]) for a in attempts] == [(503, "retry"), (200, "delivered")]
