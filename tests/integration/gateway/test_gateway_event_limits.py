"""/3/events against the real database, the gateway app in-process (its HTTPS process adds nothing here):
stored incoming events have a per-client quota (count and bytes) and a retention; the request worker
answers a RequestCreated only for a client that is still enabled, of a partner that is still enabled, and
that has the footprint:list scope."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
from conftest import add_clients

from epd_common import crypto
from epd_gateway.app import create_app
from epd_gateway.keystore import ensure_key
from epd_gateway.repository import Repository
from epd_gateway.requests import answer_pending
from epd_gateway.settings import GatewaySettings
from epd_gateway.wiring import build_deps
from epd_records import events as ev
from tests.support.gateway_process import KEY_SECRET

NOW = datetime.now(UTC).isoformat().replace("+00:00", "Z")


def event(kind: str, data: dict, event_id: str | None = None) -> dict:
    return {
        "type": f"org.wbcsd.pact.ProductFootprint.{kind}.3",
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": "https://partner-a.example/pact",
        "time": NOW,
        "data": data,
    }


async def test_event_quota_retention_and_who_gets_an_answer(gateway_db):
    clients = await add_clients(gateway_db)
    settings = GatewaySettings(pg_dsn=gateway_db, records_key_secret=KEY_SECRET, events_quota=3)
    pool = await asyncpg.create_pool(gateway_db, min_size=1, max_size=4)
    try:
        await ensure_key(pool, KEY_SECRET)
        deps = build_deps(settings, pool)
        app = create_app(settings, deps, run_request_worker=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gateway") as http:
            r = await http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=clients["a"])
            headers = {"authorization": f"Bearer {r.json()['access_token']}", "content-type": ev.CONTENT_TYPE}

            # Quota: three stored events, the fourth refused; a repeat of a stored one is still fine.
            first = event("PublishedEvent", {"pfIds": [str(uuid.uuid4())]})
            for body in (first, *(event("PublishedEvent", {"pfIds": [str(uuid.uuid4())]}) for _ in range(2))):
                assert (await http.post("/3/events", content=json.dumps(body), headers=headers)).status_code == 200
            over = await http.post(
                "/3/events",
                content=json.dumps(event("PublishedEvent", {"pfIds": [str(uuid.uuid4())]})),
                headers=headers,
            )
            assert over.status_code == 429 and over.json()["code"] == "BadRequest" and "quota" in over.json()["message"]
            assert over.headers["retry-after"] == "3600"
            assert (await http.post("/3/events", content=json.dumps(first), headers=headers)).status_code == 200
            assert await pool.fetchval("SELECT count(*) FROM gateway_incoming_events") == 3

            # Retention: events older than it are deleted, which frees the quota.
            await pool.execute(
                "UPDATE gateway_incoming_events SET received_at = now() - interval '8 days' WHERE event_id <> $1",
                first["id"],
            )
            assert await Repository(pool, "").purge_events(7.0) == 2
            again = event("RequestCreatedEvent", {"geography": ["CN"]})
            assert (await http.post("/3/events", content=json.dumps(again), headers=headers)).status_code == 200

        # The worker: a's request is answered; a client without footprint:list is rejected; a disabled client
        # and a client of a disabled partner get no answer at all.
        secret = crypto.new_client_secret()
        await Repository(pool, "").add_client("client-off", "partner-a", crypto.hash_secret(secret), ["events:write"])
        await pool.execute("UPDATE gateway_clients SET disabled = true WHERE client_id = 'client-off'")
        await pool.execute("UPDATE gateway_clients SET scopes = '{events:write}' WHERE client_id = 'client-all'")
        await pool.execute("UPDATE partners SET disabled_at = now() WHERE partner_id = 'partner-b'")
        for client in ("client-off", "client-all", "client-b"):
            await pool.execute(
                """INSERT INTO gateway_incoming_events (client_id, event_id, event_type, source, body)
                   VALUES ($1, $2, $3, 'test', $4::jsonb)""",
                client,
                f"req-{client}",
                ev.REQUEST_CREATED,
                json.dumps(event("RequestCreatedEvent", {"geography": ["CN"]}, f"req-{client}")),
            )
        assert await answer_pending(deps.catalogue, deps.keys, settings.issuer) == 4
        answers = {
            r["client_id"]: json.loads(r["body"])
            for r in await pool.fetch("SELECT client_id, body FROM gateway_outgoing_events")
        }
        assert set(answers) == {"client-a", "client-all"}
        assert answers["client-all"]["type"] == ev.REQUEST_REJECTED
        assert answers["client-all"]["data"]["error"]["code"] == "AccessDenied"
        unanswered = "SELECT count(*) FROM gateway_incoming_events WHERE answered_at IS NULL AND event_type = $1"
        assert await pool.fetchval(unanswered, ev.REQUEST_CREATED) == 0
    finally:
        await pool.close()
