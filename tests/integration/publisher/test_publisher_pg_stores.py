"""The PostgreSQL adapters of the delivery ports against the real database: claims are leases and skip
rows another transaction holds (FOR UPDATE SKIP LOCKED), take partners in turn within their free slots
and skip disabled partners; an attempt's writes land together (a 410's disabled endpoint with its pending
deliveries) and only under the writer's lease; and the fan-out store's targets and uniqueness."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from publisher_helpers import endpoint_secrets

from epd_publisher.deliveries import AttemptRecord, ClaimSlots, DeliveryState
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


async def queue(
    pool: asyncpg.Pool, count: int, endpoint: str = "jp-hook", partner: str = "jp-body", due: datetime = NOW
) -> list[str]:
    """``count`` deliveries to ``endpoint``, due at ``due``; returns their event ids in insertion order."""
    events = [str(uuid.uuid4()) for _ in range(count)]
    async with pool.acquire() as conn:
        store = PgFanoutStore(conn)
        for i, event_id in enumerate(events):
            new = NewDelivery(event_id, endpoint, partner, "magnet-a", i + 1, f"payload-{i}".encode(), due)
            assert await store.create_delivery(new)
            assert not await store.create_delivery(new)  # unique per (event, endpoint)
    return events


async def test_claims_are_leases_and_skip_rows_another_transaction_holds(db):
    events = await queue(db, 3)
    store = PgDeliveryStore(db)
    held = await db.fetchval("SELECT delivery_id FROM deliveries WHERE event_id = $1::uuid", events[0])
    async with db.acquire() as other, other.transaction():
        await other.execute("SELECT 1 FROM deliveries WHERE delivery_id = $1 FOR UPDATE", held)
        claimed = await store.claim(NOW, LEASE, ClaimSlots(10, 10))
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

    assert [d.delivery_id for d in await store.claim(NOW, LEASE, ClaimSlots(10, 10))] == [
        held
    ]  # released, now claimable
    assert await store.claim(NOW, LEASE, ClaimSlots(10, 10)) == []  # everything is leased
    assert await store.next_due() == LEASE
    assert (
        len(await store.claim(LEASE, LEASE + timedelta(seconds=120), ClaimSlots(2, 2))) == 2
    )  # the lease ended; limit holds


async def test_defer_moves_the_next_attempt_only(db):
    await queue(db, 1)
    store = PgDeliveryStore(db)
    (due,) = await store.claim(NOW, LEASE, ClaimSlots(10, 10))
    assert await store.defer(due.delivery_id, LEASE, NOW + timedelta(seconds=300))
    row = await db.fetchrow("SELECT state, attempts, next_attempt_at FROM deliveries")
    assert tuple(row) == ("pending", 0, NOW + timedelta(seconds=300))
    assert await db.fetchval("SELECT count(*) FROM delivery_attempts") == 0


async def test_a_recorded_410_disables_the_endpoint_and_its_pending_deliveries(db):
    await queue(db, 2)
    store = PgDeliveryStore(db)
    gone, _ = await store.claim(NOW, LEASE, ClaimSlots(10, 10))
    reason = "HTTP 410 Gone: partner asked to stop"
    assert await store.record(
        AttemptRecord(
            delivery_id=gone.delivery_id,
            lease_until=LEASE,
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
    assert await store.next_due() is None and await store.claim(LEASE, LEASE, ClaimSlots(10, 10)) == []


async def test_fanout_targets_skip_invalid_agreements_and_partners_without_endpoints(db):
    await db.execute(
        "INSERT INTO partners (partner_id, name, country, agreement) VALUES ('xx-body', 'Broken', 'XX', $1::jsonb)",
        json.dumps({"partner_id": "xx-body"}),
    )
    await add_partner(db, "kr-body", "Korea body", "KR", agreement("kr-body"))  # no endpoint
    targets = await PgFanoutStore(db).targets()
    assert [(t.agreement.partner_id, t.endpoint_ids) for t in targets] == [("jp-body", ("jp-hook",))]


def attempt_on(due, lease_until: datetime, status: int, action: Action, state: DeliveryState) -> AttemptRecord:
    return AttemptRecord(
        delivery_id=due.delivery_id,
        lease_until=lease_until,
        attempt=due.attempts + 1,
        attempted_at=NOW,
        first_attempt_at=NOW,
        duration_ms=5,
        status=status,
        error=None,
        action=action,
        reason=f"HTTP {status}",
        state=state,
        next_attempt_at=NOW + timedelta(seconds=30),
    )


async def test_writes_only_under_the_lease_and_claims_take_partners_in_turn(db):
    """A sender whose lease ran out (another took the delivery and delivered it) writes nothing: no second
    attempt row, no `delivered` turned back into `pending`, no deferral. (One test with the next part:
    a fresh database costs seconds.)"""
    await queue(db, 1)
    store = PgDeliveryStore(db)
    (stale,) = await store.claim(NOW, LEASE, ClaimSlots(1, 1))
    later = LEASE + timedelta(seconds=120)
    (fresh,) = await store.claim(LEASE, later, ClaimSlots(1, 1))  # the first lease ended: taken again
    assert (stale.lease_until, fresh.lease_until) == (LEASE, later)
    assert not await store.defer(stale.delivery_id, LEASE, NOW)
    assert await store.record(attempt_on(fresh, later, 204, Action.DELIVERED, DeliveryState.DELIVERED))
    assert not await store.record(attempt_on(stale, LEASE, 503, Action.RETRY, DeliveryState.PENDING))
    assert not await store.defer(fresh.delivery_id, later, NOW)  # finished: nobody's lease any more
    row = await db.fetchrow("SELECT state, attempts, last_status FROM deliveries")
    assert tuple(row) == ("delivered", 1, 204)
    assert await db.fetchval("SELECT count(*) FROM delivery_attempts") == 1

    # Claims: partners in turn within their free slots; disabled partners are skipped.
    await add_partner(db, "kr-body", "Korea body", "KR", agreement("kr-body"))
    await add_endpoint(
        db,
        EndpointSpec("kr-hook", "kr-body", "https://kr.partner.example/in", DeliveryFormat.WEBHOOK_PACT, secret=SECRET),
        lambda host: ["93.184.216.34"],
        secrets=endpoint_secrets(),
    )
    await db.execute("DELETE FROM delivery_attempts; DELETE FROM deliveries")
    await queue(db, 6)  # jp-body: a backlog, due first
    (kr_event,) = await queue(db, 1, "kr-hook", "kr-body", due=NOW + timedelta(seconds=1))
    store, at = PgDeliveryStore(db), NOW + timedelta(seconds=5)
    claimed = await store.claim(at, at + timedelta(seconds=60), ClaimSlots(3, 4, {"jp-body": 2}))
    assert [d.partner_id for d in claimed] == ["jp-body", "kr-body", "jp-body"]  # in turn; jp has 2 free
    assert claimed[1].event_id == kr_event
    assert await store.claim(at, at, ClaimSlots(5, 4, {"jp-body": 4})) == []  # jp's slots are all busy
    await db.execute("UPDATE partners SET disabled_at = now() WHERE partner_id = 'jp-body'")
    assert await store.claim(at, at, ClaimSlots(5, 4)) == []
    assert await store.next_due() == at + timedelta(seconds=60)  # only kr's leased row is left to count
