"""What a partner is pushed is what it pulls: versions made by the footprint service (import, drift,
approval, rejection) go through the real publisher (outbox -> Kafka -> fan-out -> signed webhooks)
to a receiver per partner; the real gateway serves the same ids to the same partners. For every id
the last record pushed (by product sequence) equals the record pulled, as RFC 8785 JSON, and one
signature rule verifies both: the embedded record JWS, and x-epd-signature over the exact bytes.

Two partners: one accepts provisional versions (it sees drifted versions and the published ones
they supersede as Deprecated), one does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest
import rfc8785
from aiohttp import web
from standardwebhooks import Webhook

from epd_common import crypto
from epd_footprint import decisions
from epd_footprint.pg_store import pg_transactions
from epd_footprint.service import FootprintService
from epd_footprint.user_store import add_user
from epd_footprint.users import Role, User
from epd_gateway.repository import Repository
from epd_publisher.partners import EndpointSpec, add_endpoint, add_partner
from epd_records.recognition import DeliveryFormat, PcrRule, RecognitionAgreement, Standard
from epd_records.record import verify_pact_record
from epd_records.signing import verify_payload
from tests.integration.footprint.footprint_chain import register, roasting_window
from tests.integration.publisher.publisher_helpers import SECRET_KEY, endpoint_secrets
from tests.support.gateway_process import KEY_SECRET, start, stop

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OXIDE_CLASS = "hs:2846.90"
PARTNERS = {"partner-provisional": True, "partner-published": False}


class Receiver:
    """A partner's webhook endpoint: checks the Standard Webhooks signature with the library."""

    def __init__(self) -> None:
        self.verifier = Webhook(WEBHOOK_SECRET)
        self.bodies: list[tuple[bytes, dict[str, str]]] = []
        self.rejected = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        try:
            self.verifier.verify(body, {k.lower(): v for k, v in headers.items()})
        except Exception:  # the library raises its own error types; any failure is a refused delivery
            self.rejected += 1
            return web.Response(status=401)
        self.bodies.append((body, {k.lower(): v for k, v in headers.items()}))
        return web.Response(status=204)

    def latest(self) -> dict[str, tuple[bytes, dict[str, str], dict]]:
        """The last record pushed per id: the highest product sequence wins, not the arrival order."""
        out: dict[str, tuple[int, bytes, dict[str, str], dict]] = {}
        for body, headers in self.bodies:
            payload = json.loads(body)
            pf_id, seq = payload["data"]["id"], payload["productSequence"]
            if pf_id not in out or seq > out[pf_id][0]:
                out[pf_id] = (seq, body, headers, payload)
        return {k: v[1:] for k, v in out.items()}


@contextlib.asynccontextmanager
async def serving(receiver: Receiver):
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/webhooks"
    finally:
        await runner.cleanup()


async def seed_partners(pool: asyncpg.Pool, urls: dict[str, str]) -> dict[str, tuple[str, str]]:
    clients = {}
    for partner, provisional in PARTNERS.items():
        agreement = RecognitionAgreement(
            partner_id=partner,
            product_classes=(OXIDE_CLASS,),
            pcrs=(PcrRule(pcr_id="pcr-rare-earths"),),
            standards=frozenset({Standard.EN_15804_A2}),
            accepts_provisional=provisional,
        )
        await add_partner(pool, partner, partner, "DE", agreement)
        spec = EndpointSpec(
            f"{partner}-hook",
            partner,
            urls[partner],
            DeliveryFormat.WEBHOOK_PACT,
            "hmac",
            WEBHOOK_SECRET,
            allow_private=True,
        )
        await add_endpoint(pool, spec, secrets=endpoint_secrets())
        secret = crypto.new_client_secret()
        await Repository(pool, "").add_client(
            f"{partner}-client", partner, crypto.hash_secret(secret), ["footprint:list", "footprint:read"]
        )
        clients[partner] = (f"{partner}-client", secret)
    return clients


async def settled(pool: asyncpg.Pool) -> bool:
    """Every change relayed, fanned out and delivered (nothing pending)."""
    return bool(
        await pool.fetchval("""
        SELECT NOT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM outbox_sequences o LEFT JOIN subscriber_positions p
                           ON p.subscriber = 'partner-fanout' AND p.product_id = o.product_id
                           WHERE p.last_sequence IS DISTINCT FROM o.last_sequence)
           AND NOT EXISTS (SELECT 1 FROM deliveries WHERE state <> 'delivered')""")
    )


async def wait_settled(pool: asyncpg.Pool, publisher: subprocess.Popen) -> None:
    """Polls the database (there is nothing to wait on across processes); the bound only catches a hang."""
    async with asyncio.timeout(180):
        while not await settled(pool):
            assert publisher.poll() is None, "the publisher stopped"
            await asyncio.sleep(0.2)


def start_publisher(env: dict[str, str], log_path) -> subprocess.Popen:
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "epd_publisher"], env=env, stderr=log)


async def pull_all(gateway_url: str, cert, client: tuple[str, str]) -> dict[str, dict]:
    """Every record the partner may list, and each one fetched singly (both checked for their signatures)."""
    import ssl

    async with httpx.AsyncClient(
        base_url=gateway_url, verify=ssl.create_default_context(cafile=str(cert)), timeout=30
    ) as http:
        r = await http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=client)
        assert r.status_code == 200, r.text
        http.headers["authorization"] = f"Bearer {r.json()['access_token']}"
        jwks = (await http.get("/.well-known/jwks.json")).json()
        listed: dict[str, dict] = {}
        url: str | None = "/3/footprints?limit=3"
        while url:
            page = await http.get(url)
            assert page.status_code == 200, page.text
            verify_payload(page.content, page.headers["x-epd-signature"], jwks)
            listed.update({pf["id"]: pf for pf in page.json()["data"]})
            link = page.headers.get("link")
            url = link[1 : link.index(">")] if link else None
        single = {}
        for pf_id in listed:
            one = await http.get(f"/3/footprints/{pf_id}")
            assert one.status_code == 200, one.text
            verify_payload(one.content, one.headers["x-epd-signature"], jwks)
            single[pf_id] = one.json()["data"]
        assert single == listed
        return {"records": listed, "jwks": jwks}


@pytest.mark.slow
async def test_pushed_records_equal_pulled_records(fresh_db, kafka, topic_prefix, tmp_path):
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=4)
    receivers = {p: Receiver() for p in PARTNERS}
    try:
        pf_ids = await register(
            pool, company_ids=("urn:pact:company:cn-uscc:91150200MA0N0XYZ1K",), classifications=(OXIDE_CLASS,)
        )
        async with contextlib.AsyncExitStack() as stack:
            urls = {p: await stack.enter_async_context(serving(r)) for p, r in receivers.items()}
            clients = await seed_partners(pool, urls)
            env = dict(
                os.environ,
                EPD_PG_DSN=fresh_db,
                EPD_KAFKA_BOOTSTRAP=kafka.bootstrap,
                EPD_TOPIC_PREFIX=topic_prefix,
                EPD_PUBLISHER_METRICS_PORT="0",
                EPD_PUBLISHER_POLL_INTERVAL_S="0.05",
                EPD_PUBLISHER_SECRET_KEY=SECRET_KEY,
                EPD_RECORDS_KEY_SECRET=KEY_SECRET,
                EPD_PUBLISHER_FANOUT_GROUP=f"fanout-{uuid.uuid4().hex[:8]}",
                EPD_LOG_LEVEL="WARNING",
            )
            publisher = await asyncio.to_thread(start_publisher, env, tmp_path / "publisher.log")
            gateway, _, port = await asyncio.to_thread(start, fresh_db, tmp_path)
            try:
                # Drift: three hourly evaluations past the threshold make provisional versions downstream.
                service = FootprintService(pg_transactions(pool))
                for day in range(3):
                    await service.apply_message(roasting_window(day, Decimal("1.2")))
                provisional = dict(
                    await pool.fetch(
                        "SELECT s.product_id, v.pf_id FROM epd_versions v JOIN epd_series s USING (series_id) "
                        "WHERE v.status = 'provisional'"
                    )
                )
                assert {"roasted-ore", "re-chloride"} <= set(provisional)
                await wait_settled(pool, publisher)
                # A verifier approves one and rejects another.
                made = await add_user(pool, "verifier-2", frozenset({Role.VERIFIER}))
                verifier = User(made.user_id, made.name, frozenset({Role.VERIFIER}))
                await decisions.approve_version(pool, provisional["roasted-ore"], verifier)
                await decisions.reject_version(pool, provisional["re-chloride"], "meter fault", verifier)
                await wait_settled(pool, publisher)

                pulled = {
                    p: await pull_all(f"https://127.0.0.1:{port}", tmp_path / "tls" / "cert.pem", clients[p])
                    for p in PARTNERS
                }
                deliveries = await pool.fetch(
                    "SELECT d.partner_id, o.change_type, o.pf_id, d.state FROM deliveries d "
                    "JOIN outbox o ON o.event_id = d.event_id ORDER BY d.partner_id, o.outbox_id"
                )
            finally:
                await asyncio.to_thread(stop, gateway)
                publisher.terminate()
                publisher.wait(30)
        for partner, receiver in receivers.items():
            assert receiver.rejected == 0
            pushed = receiver.latest()
            records, jwks = pulled[partner]["records"], pulled[partner]["jwks"]
            assert set(pushed) == set(records), (partner, [dict(r) for r in deliveries])
            for pf_id, (body, headers, payload) in pushed.items():
                assert rfc8785.dumps(payload["data"]) == rfc8785.dumps(records[pf_id]), (partner, pf_id)
                verify_pact_record(payload["data"], jwks)
                verify_payload(body, headers["x-epd-signature"], jwks)
        # What each partner sees of the drift (the versions named by product).
        sees_provisional = pulled["partner-provisional"]["records"]
        sees_published = pulled["partner-published"]["records"]
        chloride_draft = str(provisional["re-chloride"])
        assert chloride_draft in sees_provisional and chloride_draft not in sees_published
        assert sees_provisional[chloride_draft]["status"] == "Deprecated"  # rejected: withdrawn
        assert sees_provisional[pf_ids["re-chloride"]]["status"] == "Active"  # current again
        others = set(provisional) - {"roasted-ore", "re-chloride"}
        for product in others:  # still awaiting a verifier
            new, old = str(provisional[product]), pf_ids[product]
            assert sees_provisional[new]["status"] == "Active" and sees_provisional[old]["status"] == "Deprecated"
            assert new not in sees_published and sees_published[old]["status"] == "Active"
        for records in (sees_provisional, sees_published):
            approved, superseded = records[str(provisional["roasted-ore"])], records[pf_ids["roasted-ore"]]
            assert approved["status"] == "Active" and superseded["status"] == "Deprecated"
            assert approved["precedingPfIds"] == [pf_ids["roasted-ore"]]
            active_per_product: dict[str, int] = {}
            for record in records.values():
                if record["status"] == "Active":
                    key = record["productIds"][0]
                    active_per_product[key] = active_per_product.get(key, 0) + 1
            assert set(active_per_product.values()) == {1}, active_per_product
    finally:
        await pool.close()
