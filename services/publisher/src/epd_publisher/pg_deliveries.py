"""The PostgreSQL adapter of deliveries.DeliveryStore (tables of migrations 0003_publisher, 0004_gateway_perf
and 0005_publisher_secrets).

Claims are ``FOR UPDATE OF d SKIP LOCKED`` in a short transaction that also pushes the claimed rows'
``next_attempt_at`` to the lease end, so concurrent senders never take the same row and a killed
sender's rows come back when the lease ends. The claim reads up to ``per_partner`` due rows of each
partner (ranked within the partner), and ``ClaimSlots.choose`` picks which of them to lease; the rows
it leaves are unlocked at commit, still due. An attempt's writes (the delivery, its
``delivery_attempts`` row, a disabled endpoint with its pending deliveries, a gateway answer marked
sent) share one transaction, and happen only while the lease is held: the delivery row is updated
``WHERE state = 'pending' AND next_attempt_at = <the lease's end>`` first, and nothing else is written
when that matches no row.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from epd_common.db import transaction
from epd_publisher.deliveries import AttemptRecord, ClaimSlots, DueDelivery

# The due rows of enabled endpoints of enabled partners, ranked per partner (oldest due first); the
# outer query re-checks the row's own conditions, so a row another claim changed since the snapshot
# is judged on its new values once locked.
_CLAIM = """
    WITH due AS (
        SELECT d.delivery_id,
               row_number() OVER (PARTITION BY d.partner_id ORDER BY d.next_attempt_at, d.delivery_id) AS rank
        FROM deliveries d JOIN partner_endpoints e USING (endpoint_id)
        JOIN partners p ON p.partner_id = d.partner_id
        WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND e.disabled_at IS NULL AND p.disabled_at IS NULL
    )
    SELECT d.delivery_id, d.event_id::text AS event_id, d.partner_id, d.payload, d.attempts, d.kind,
           d.first_attempt_at, e.endpoint_id, e.url, e.format, e.signing, e.secret_sealed, e.token_url,
           e.client_id, e.client_secret_sealed, e.allow_private, due.rank,
           coalesce((p.agreement->>'accepts_provisional')::boolean, false) AS accepts_provisional
    FROM due JOIN deliveries d USING (delivery_id) JOIN partner_endpoints e USING (endpoint_id)
    JOIN partners p ON p.partner_id = d.partner_id
    WHERE due.rank <= $2 AND d.state = 'pending' AND d.next_attempt_at <= $1
    ORDER BY due.rank, d.next_attempt_at, d.delivery_id
    FOR UPDATE OF d SKIP LOCKED"""
_LEASE = "UPDATE deliveries SET next_attempt_at = $1 WHERE delivery_id = ANY($2::bigint[])"
_NEXT_DUE = """
    SELECT min(d.next_attempt_at) FROM deliveries d JOIN partner_endpoints e USING (endpoint_id)
    JOIN partners p ON p.partner_id = d.partner_id
    WHERE d.state = 'pending' AND e.disabled_at IS NULL AND p.disabled_at IS NULL"""
_HELD = "state = 'pending' AND next_attempt_at = $"  # + the lease parameter's number: the lease is still ours
_DEFER = f"UPDATE deliveries SET next_attempt_at = $1 WHERE delivery_id = $2 AND {_HELD}3"
_FINISH = f"""
    UPDATE deliveries SET state = $2, attempts = $3, first_attempt_at = $4, next_attempt_at = $5,
           last_status = $6, last_error = $7,
           finished_at = CASE WHEN $2::text = 'pending' THEN NULL ELSE $8::timestamptz END
    WHERE delivery_id = $1 AND {_HELD}9"""
_ATTEMPT = """
    INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, status, error, action, reason, duration_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""
_ANSWER_SENT = "UPDATE gateway_outgoing_events SET sent_at = $2 WHERE event_id = $1::uuid AND sent_at IS NULL"
_DISABLE_ENDPOINT = """
    UPDATE partner_endpoints SET disabled_at = $2, disabled_reason = $3
    WHERE endpoint_id = $1 AND disabled_at IS NULL"""
_DISABLE_PENDING = """
    UPDATE deliveries SET state = 'disabled', finished_at = $2
    WHERE endpoint_id = $1 AND state = 'pending'"""


def _due(r: asyncpg.Record, lease_until: datetime) -> DueDelivery:
    return DueDelivery(
        delivery_id=r["delivery_id"],
        event_id=r["event_id"],
        partner_id=r["partner_id"],
        kind=r["kind"],
        payload=bytes(r["payload"]),
        attempts=r["attempts"],
        first_attempt_at=r["first_attempt_at"],
        accepts_provisional=r["accepts_provisional"],
        endpoint_id=r["endpoint_id"],
        url=r["url"],
        format=r["format"],
        signing=r["signing"],
        secret_sealed=r["secret_sealed"],
        token_url=r["token_url"],
        client_id=r["client_id"],
        client_secret_sealed=r["client_secret_sealed"],
        allow_private=r["allow_private"],
        lease_until=lease_until,
    )


class PgDeliveryStore:
    retryable: tuple[type[Exception], ...] = (OSError, asyncpg.PostgresError)

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, now: datetime, lease_until: datetime, slots: ClaimSlots) -> list[DueDelivery]:
        if slots.total <= 0:
            return []
        async with transaction(self._pool) as conn:
            rows = await conn.fetch(_CLAIM, now, slots.per_partner)
            rows = [rows[i] for i in slots.choose([(r["rank"], r["partner_id"]) for r in rows])]
            if rows:
                await conn.execute(_LEASE, lease_until, [r["delivery_id"] for r in rows])
        return [_due(r, lease_until) for r in rows]

    async def next_due(self) -> datetime | None:
        return await self._pool.fetchval(_NEXT_DUE)

    async def defer(self, delivery_id: int, lease_until: datetime, until: datetime) -> bool:
        return _changed(await self._pool.execute(_DEFER, until, delivery_id, lease_until))

    async def record(self, attempt: AttemptRecord) -> bool:
        a = attempt
        async with transaction(self._pool) as conn:
            finished = await conn.execute(
                _FINISH,
                a.delivery_id,
                a.state.value,
                a.attempt,
                a.first_attempt_at,
                a.next_attempt_at,
                a.status,
                a.error or a.reason[:500],
                a.attempted_at,
                a.lease_until,
            )
            if not _changed(finished):
                return False  # the lease ran out and another sender took the delivery: not ours to write
            await conn.execute(
                _ATTEMPT,
                a.delivery_id,
                a.attempt,
                a.attempted_at,
                a.status,
                a.error,
                a.action.value,
                a.reason[:1000],
                a.duration_ms,
            )
            if a.answer_sent is not None:
                await conn.execute(_ANSWER_SENT, a.answer_sent, a.attempted_at)
            if a.disable_endpoint is not None:
                await conn.execute(_DISABLE_ENDPOINT, a.disable_endpoint, a.attempted_at, a.reason)
                await conn.execute(_DISABLE_PENDING, a.disable_endpoint, a.attempted_at)
        return True


def _changed(status: str) -> bool:
    """Whether an UPDATE's command tag ("UPDATE n") says it changed a row."""
    return not status.endswith(" 0")
