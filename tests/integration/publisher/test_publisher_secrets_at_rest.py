"""Endpoint secrets in the real database: stored as ciphertext; a sender with the wrong
EPD_PUBLISHER_SECRET_KEY sends nothing (no unsigned or badly signed request), spends no attempt and
defers the delivery; the start-up check names the endpoints; the right key then delivers, verified
by the independent ``standardwebhooks`` library."""

from __future__ import annotations

import base64
import random
from datetime import timedelta

import asyncpg
import pytest
from aiohttp import web
from publisher_helpers import add_product, commit_version, endpoint_secrets, http_server, seed_registry, signed_records
from standardwebhooks import Webhook

from epd.v1 import footprint_pb2
from epd_publisher import metrics
from epd_publisher.delivery.pinning import PinnedClient
from epd_publisher.endpoint_secrets import EndpointSecrets
from epd_publisher.partners import (
    EndpointSpec,
    add_endpoint,
    add_partner,
    fan_out,
    load_targets,
    undecryptable_endpoints,
)
from epd_publisher.pg_deliveries import PgDeliveryStore
from epd_publisher.sender import SECRET_RETRY_S, ManualClock, Sender, SenderConfig
from epd_records.recognition import DeliveryFormat, PcrRule, RecognitionAgreement, Standard

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


@pytest.fixture
async def db(fresh_db):
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=6)
    await seed_registry(pool)
    yield pool
    await pool.close()


async def test_wrong_key_defers_without_sending_and_the_right_key_delivers(db):
    await add_product(db, "magnet-a")
    await commit_version(db, "magnet-a")
    received: list[tuple[bytes, dict]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((await request.read(), {k.lower(): v for k, v in request.headers.items()}))
        return web.Response(status=204)

    async with http_server(handle) as base, PinnedClient() as http:
        await add_partner(
            db,
            "jp-body",
            "Japan body",
            "JP",
            RecognitionAgreement(
                partner_id="jp-body",
                product_classes=("hs:8505",),
                pcrs=(PcrRule(pcr_id="PCR-magnets"),),
                standards=frozenset({Standard.EN_15804_A2}),
            ),
        )
        await add_endpoint(
            db,
            EndpointSpec(
                "jp-hook", "jp-body", f"{base}/hooks", DeliveryFormat.WEBHOOK_PACT, secret=SECRET, allow_private=True
            ),
            secrets=endpoint_secrets(),
        )
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
                client_secret="pact-client-secret",
                allow_private=True,
            ),
            secrets=endpoint_secrets(),
        )
        stored = await db.fetch("SELECT secret_sealed, client_secret_sealed FROM partner_endpoints")
        raw = b"".join(bytes(v) for r in stored for v in r.values() if v is not None)
        assert SECRET.encode() not in raw and b"pact-client-secret" not in raw

        clock = ManualClock()
        async with db.acquire() as conn:
            payload = await conn.fetchval("SELECT payload FROM outbox")
            await fan_out(
                conn, footprint_pb2.FootprintChanged.FromString(payload), await load_targets(conn), clock.now()
            )
        wrong = EndpointSecrets("a-different-operator-secret")
        assert await undecryptable_endpoints(db, wrong) == ["jp-hook", "jp-pact"]
        assert await undecryptable_endpoints(db, endpoint_secrets()) == []

        errors_before = metrics.SECRET_ERRORS.labels("jp-body")._value.get()
        config = SenderConfig(timeout_s=5)
        bad = Sender(
            PgDeliveryStore(db),
            http,
            signed_records(db),
            clock=clock,
            rng=random.Random(1),
            config=config,
            secrets=wrong,
        )
        assert await bad.run_due() == 2
        assert received == []  # nothing sent: no unsigned request, no request signed with garbage
        rows = await db.fetch("SELECT state, attempts, next_attempt_at FROM deliveries ORDER BY endpoint_id")
        assert [(r["state"], r["attempts"]) for r in rows] == [("pending", 0), ("pending", 0)]
        assert all(r["next_attempt_at"] >= clock.now() + timedelta(seconds=SECRET_RETRY_S - 1) for r in rows)
        assert await db.fetchval("SELECT count(*) FROM delivery_attempts") == 0
        assert metrics.SECRET_ERRORS.labels("jp-body")._value.get() == errors_before + 2

        good = Sender(
            PgDeliveryStore(db),
            http,
            signed_records(db),
            clock=clock,
            rng=random.Random(1),
            config=config,
            secrets=endpoint_secrets(),
        )
        clock.advance(SECRET_RETRY_S + 1)
        await good.run_due()
    hooks = [(body, headers) for body, headers in received if "webhook-signature" in headers]
    assert len(hooks) == 1
    Webhook(SECRET).verify(*hooks[0])  # raises when the signature is wrong
    token_auth = [h.get("authorization") for _, h in received if h.get("authorization", "").startswith("Basic ")]
    assert token_auth == ["Basic " + base64.b64encode(b"c:pact-client-secret").decode()]
