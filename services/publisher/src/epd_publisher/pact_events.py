"""Delivers the gateway's answers to PACT RequestCreated events (RequestFulfilled / RequestRejected).

The gateway writes each answer to ``gateway_outgoing_events`` (partner, CloudEvent body). This
forwarder turns every unsent answer into one ``deliveries`` row of kind 'pact-event' per enabled
PACT endpoint of that partner (the requester's registered ``/3/events``; never the event's own
``source``, which the requester controls). From there the ordinary sender delivers it: SSRF guard,
OAuth2 token, retry policy with backoff and Retry-After, breaker, attempt log, dead letters and
replay. When the delivery succeeds the sender sets ``gateway_outgoing_events.sent_at``.

An answer whose partner has no PACT endpoint yet waits (counted) until one is registered.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import asyncpg
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)
FORWARDED = Counter(
    "epd_publisher_pact_events_forwarded_total", "Gateway PACT answers handed to delivery (one per endpoint)"
)
WAITING = Gauge("epd_publisher_pact_events_waiting", "Gateway PACT answers whose partner has no enabled PACT endpoint")

_CLAIM = """
    SELECT o.event_id, o.partner_id, o.body::text AS body, e.endpoint_id
    FROM gateway_outgoing_events o
    JOIN partner_endpoints e ON e.partner_id = o.partner_id AND e.format = 'pact' AND e.disabled_at IS NULL
    WHERE o.sent_at IS NULL AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = o.event_id)
    ORDER BY o.outgoing_id LIMIT $1
    FOR UPDATE OF o SKIP LOCKED"""
_WAITING = """
    SELECT count(*) FROM gateway_outgoing_events o
    WHERE o.sent_at IS NULL AND NOT EXISTS (SELECT 1 FROM partner_endpoints e WHERE e.partner_id = o.partner_id
                                            AND e.format = 'pact' AND e.disabled_at IS NULL)"""


async def forward(pool: asyncpg.Pool, now: datetime, batch: int = 100) -> int:
    """Hand one batch of unsent answers to delivery; returns the number of deliveries created."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_CLAIM, batch)
        created = 0
        for r in rows:
            status = await conn.execute(
                """INSERT INTO deliveries (event_id, endpoint_id, partner_id, product_id, product_sequence, payload,
                                           kind, next_attempt_at)
                   VALUES ($1, $2, $3, '', 0, $4, 'pact-event', $5) ON CONFLICT (event_id, endpoint_id) DO NOTHING""",
                r["event_id"],
                r["endpoint_id"],
                r["partner_id"],
                r["body"].encode(),
                now,
            )
            created += status.endswith(" 1")
        WAITING.set(await conn.fetchval(_WAITING))
    FORWARDED.inc(created)
    return created


async def run(pool: asyncpg.Pool, clock, stop: asyncio.Event, idle_s: float = 0.5) -> None:
    """Forward until `stop`; a database error is logged and retried on the next round."""
    while not stop.is_set():
        try:
            created = await forward(pool, clock.now())
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("forwarding PACT answers failed, retrying", extra={"error": str(exc)})
            created = 0
        if not created:
            try:
                await asyncio.wait_for(stop.wait(), idle_s)
            except TimeoutError:
                pass
