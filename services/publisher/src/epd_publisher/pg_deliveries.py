"""The PostgreSQL adapter of deliveries.DeliveryStore (tables of migrations 0003_publisher, 0004_gateway_perf
and 0005_publisher_secrets).

Claims are ``FOR UPDATE OF d SKIP LOCKED`` in a short transaction that also pushes the claimed rows'
``next_attempt_at`` to the lease end, so concurrent senders never take the same row and a killed
sender's rows come back when the lease ends. An attempt's writes (the delivery, its
``delivery_attempts`` row, a disabled endpoint with its pending deliveries, a gateway answer marked
sent) share one transaction.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from epd_common.db import transaction
from epd_publisher.deliveries import AttemptRecord, DueDelivery

_CLAIM = """
    SELECT d.delivery_id, d.event_id::text AS event_id, d.partner_id, d.payload, d.attempts, d.kind,
           d.first_attempt_at, e.endpoint_id, e.url, e.format, e.signing, e.secret_sealed, e.token_url,
           e.client_id, e.client_secret_sealed, e.allow_private,
           coalesce((p.agreement->>'accepts_provisional')::boolean, false) AS accepts_provisional
    FROM deliveries d JOIN partner_endpoints e USING (endpoint_id)
    JOIN partners p ON p.partner_id = d.partner_id
    WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND e.disabled_at IS NULL
    ORDER BY d.next_attempt_at, d.delivery_id LIMIT $2
    FOR UPDATE OF d SKIP LOCKED"""
_LEASE = "UPDATE deliveries SET next_attempt_at = $1 WHERE delivery_id = ANY($2::bigint[])"
_NEXT_DUE = """
    SELECT min(d.next_attempt_at) FROM deliveries d JOIN partner_endpoints e USING (endpoint_id)
    WHERE d.state = 'pending' AND e.disabled_at IS NULL"""
_DEFER = "UPDATE deliveries SET next_attempt_at = $1 WHERE delivery_id = $2"
_FINISH = """
    UPDATE deliveries SET state = $2, attempts = $3, first_attempt_at = $4, next_attempt_at = $5,
           last_status = $6, last_error = $7,
           finished_at = CASE WHEN $2::text = 'pending' THEN NULL ELSE $8::timestamptz END
    WHERE delivery_id = $1"""
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


def _due(r: asyncpg.Record) -> DueDelivery:
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
    )


class PgDeliveryStore:
    retryable: tuple[type[Exception], ...] = (OSError, asyncpg.PostgresError)

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[DueDelivery]:
        async with transaction(self._pool) as conn:
            rows = await conn.fetch(_CLAIM, now, limit)
            if rows:
                await conn.execute(_LEASE, lease_until, [r["delivery_id"] for r in rows])
        return [_due(r) for r in rows]

    async def next_due(self) -> datetime | None:
        return await self._pool.fetchval(_NEXT_DUE)

    async def defer(self, delivery_id: int, until: datetime) -> None:
        await self._pool.execute(_DEFER, until, delivery_id)

    async def record(self, attempt: AttemptRecord) -> None:
        a = attempt
        async with transaction(self._pool) as conn:
            await conn.execute(
                _FINISH,
                a.delivery_id,
                a.state.value,
                a.attempt,
                a.first_attempt_at,
                a.next_attempt_at,
                a.status,
                a.error or a.reason[:500],
                a.attempted_at,
            )
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
