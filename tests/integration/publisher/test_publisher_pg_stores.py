"""The PostgreSQL adapters of the delivery ports against the real database: claims are leases and skip
rows another transaction holds (FOR UPDATE SKIP LOCKED), an attempt's writes land together (a 410's
disabled endpoint with its pending deliveries), and the fan-out store's targets and uniqueness."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from publisher_helpers import endpoint_secrets

from epd_publisher.deliveries import AttemptRecord, DeliveryState
from epd_publisher.delivery.retry import Action
from epd_publisher.fanout import NewDelivery
from epd_publisher.partners import EndpointSpec, add_endpoint, add_partner
from epd_publisher.pg_deliveries import PgDeliveryStore
from epd_publisher.pg_partners import PgFanoutStore
from epd_records.recognition import DeliveryFormat, PcrRule, RecognitionAgreement, Standard
from tests.support.pcrs import register_pcrs

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
LEASE = NOW + timedelta(seconds=120)
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def agreement(partner_id: str) -> RecognitionAgreement:
    return RecognitionAgreement(
        partner_id=partner_id,
        product_classes=("hs:8505",),
        pcrs=(PcrRule(pcr_id="PCR-magnets"),),
        standards=frozenset({Standard.EN_15804_A2}),
    )


@pytest.fixture
async def db(fresh_db):
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=4)
    await register_pcrs(pool, ("PCR-magnets", "1.0"))
    await add_partner(pool, "jp-body", "Japan body", "JP", agreement("jp-body"))
    await add_endpoint(
        pool,
        EndpointSpec(
            "jp-hook", "jp-body", "https://hooks.partner.example/in", DeliveryFormat.WEBHOOK_PACT, secret=SECRET
        ),
        lambda host: ["93.184.216.34"],
        secrets=endpoint_secrets(),
    )
    yield pool
    await pool.close()


async def queue(pool: asyncpg.Pool, count: int) -> list[str]:
    """``count`` deliveries to jp-hook, due at NOW; returns their event ids in insertion order."""
    events = [str(uuid.uuid4()) for _ in range(count)]
    async with pool.acquire() as conn:
        store = PgFanoutStore(conn)
        for i, event_id in enumerate(events):
            new = NewDelivery(event_id, "jp-hook", "jp-body", "magnet-a", i + 1, f"payload-{i}".encode(), NOW)
            assert await store.create_delivery(new)
            assert not await store.create_delivery(new)  # unique per (event, endpoint)
    return events


async def test_claims_are_leases_and_skip_rows_another_transaction_holds(db):
    events = await queue(db, 3)
    store = PgDeliveryStore(db)
    held = await db.fetchval("SELECT delivery_id FROM deliveries WHERE event_id = $1::uuid", events[0])
    async with db.acquire() as other, other.transaction():
        await other.execute("SELECT 1 FROM deliveries WHERE delivery_id = $1 FOR UPDATE", held)
        claimed = await store.claim(NOW, LEASE, 10)
    assert [d.event_id for d in claimed] == events[1:]  # the held row is skipped, the others in order
    first = claimed[0]
    assert (first.partner_id, first.payload, first.attempts, first.first_attempt_at) == (
        "jp-body",
        b"payload-1",
        0,
        None,
    )
    assert first.url == "https://hooks.partner.example/in" and first.secret_sealed and not first.accepts_provisional
    leased = await db.fetch("SELECT next_attempt_at FROM deliveries WHERE delivery_id <> $1", held)
    assert {r["next_attempt_at"] for r in leased} == {LEASE}

    assert [d.delivery_id for d in await store.claim(NOW, LEASE, 10)] == [held]  # released, now claimable
    assert await store.claim(NOW, LEASE, 10) == []  # everything is leased
    assert await store.next_due() == LEASE
    assert len(await store.claim(LEASE, LEASE + timedelta(seconds=120), 2)) == 2  # the lease ended; limit holds


async def test_defer_moves_the_next_attempt_only(db):
    await queue(db, 1)
    store = PgDeliveryStore(db)
    (due,) = await store.claim(NOW, LEASE, 10)
    await store.defer(due.delivery_id, NOW + timedelta(seconds=300))
    row = await db.fetchrow("SELECT state, attempts, next_attempt_at FROM deliveries")
    assert tuple(row) == ("pending", 0, NOW + timedelta(seconds=300))
    assert await db.fetchval("SELECT count(*) FROM delivery_attempts") == 0


async def test_a_recorded_410_disables_the_endpoint_and_its_pending_deliveries(db):
    await queue(db, 2)
    store = PgDeliveryStore(db)
    gone, _ = await store.claim(NOW, LEASE, 10)
    reason = "HTTP 410 Gone: partner asked to stop"
    await store.record(
        AttemptRecord(
            delivery_id=gone.delivery_id,
            attempt=1,
            attempted_at=NOW,
            first_attempt_at=NOW,
            duration_ms=12,
            status=410,
            error=None,
            action=Action.DISABLE_ENDPOINT,
            reason=reason,
            state=DeliveryState.DISABLED,
            next_attempt_at=NOW,
            disable_endpoint="jp-hook",
        )
    )
    endpoint = await db.fetchrow("SELECT disabled_at, disabled_reason FROM partner_endpoints")
    assert tuple(endpoint) == (NOW, reason)
    rows = await db.fetch(
        "SELECT state, attempts, last_status, last_error, finished_at FROM deliveries ORDER BY attempts DESC"
    )
    assert [tuple(r) for r in rows] == [("disabled", 1, 410, reason, NOW), ("disabled", 0, None, None, NOW)]
    attempt = await db.fetchrow("SELECT attempt, status, error, action, reason, duration_ms FROM delivery_attempts")
    assert tuple(attempt) == (1, 410, None, "disable_endpoint", reason, 12)
    assert await store.next_due() is None and await store.claim(LEASE, LEASE, 10) == []


async def test_fanout_targets_skip_invalid_agreements_and_partners_without_endpoints(db):
    await db.execute(
        "INSERT INTO partners (partner_id, name, country, agreement) VALUES ('xx-body', 'Broken', 'XX', $1::jsonb)",
        json.dumps({"partner_id": "xx-body"}),
    )
    await add_partner(db, "kr-body", "Korea body", "KR", agreement("kr-body"))  # no endpoint
    targets = await PgFanoutStore(db).targets()
    assert [(t.agreement.partner_id, t.endpoint_ids) for t in targets] == [("jp-body", ("jp-hook",))]
