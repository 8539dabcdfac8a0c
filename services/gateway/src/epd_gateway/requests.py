"""Answers stored RequestCreated events with RequestFulfilled or RequestRejected.

The answer is written to gateway_outgoing_events (with the partner it goes to) in the same
transaction that marks the request answered; the publisher's PACT event sender delivers those rows
to the partner's /3/events endpoint with retries (it owns outgoing HTTP, backoff and the delivery
log). Rows are claimed with FOR UPDATE SKIP LOCKED, so several gateway replicas can run this.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from pydantic import ValidationError

from epd_gateway.catalogue import Catalogue
from epd_gateway.deps import KeySource
from epd_gateway.query import FilterError, from_criteria
from epd_records import events as ev
from epd_records.errors import EventError
from epd_records.recognition import RecognitionAgreement

log = logging.getLogger(__name__)
ANSWERED = Counter(
    "epd_gateway_requests_answered_total",
    "RequestCreated events answered: fulfilled, rejected, or dropped (client or partner disabled)",
    ["outcome"],
)
MAX_PFS = 100
LIST_SCOPE = "footprint:list"  # an answer lists footprints: the same scope as GET /3/footprints
PURGE_EVERY_S = 600.0


async def answer_pending(catalogue: Catalogue, keys: KeySource, source: str, batch: int = 20) -> int:
    pool = catalogue.repo.pool
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """
            SELECT e.client_id, e.event_id, e.body, c.partner_id, p.agreement, c.scopes,
                   NOT c.disabled AND p.disabled_at IS NULL AS enabled
            FROM gateway_incoming_events e JOIN gateway_clients c USING (client_id)
            JOIN partners p ON p.partner_id = c.partner_id
            WHERE e.answered_at IS NULL AND e.event_type = $1
            ORDER BY e.received_at LIMIT $2 FOR UPDATE OF e SKIP LOCKED""",
            ev.REQUEST_CREATED,
            batch,
        )
        for row in rows:
            if not row["enabled"]:  # disabled since it asked: no answer at all, to anyone
                await _mark_answered(conn, row)
                ANSWERED.labels("dropped").inc()
                continue
            event = await _answer(catalogue, keys, source, row)
            await conn.execute(
                """
                INSERT INTO gateway_outgoing_events
                    (event_id, partner_id, client_id, request_event_id, event_type, body)
                VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (client_id, request_event_id) DO NOTHING""",
                uuid.UUID(event["id"]),
                row["partner_id"],
                row["client_id"],
                row["event_id"],
                event["type"],
                json.dumps(event),
            )
            await _mark_answered(conn, row)
            ANSWERED.labels("fulfilled" if event["type"] == ev.REQUEST_FULFILLED else "rejected").inc()
    return len(rows)


async def _mark_answered(conn: Any, row: Any) -> None:
    await conn.execute(
        "UPDATE gateway_incoming_events SET answered_at = now() WHERE client_id = $1 AND event_id = $2",
        row["client_id"],
        row["event_id"],
    )


async def _answer(catalogue: Catalogue, keys: KeySource, source: str, row: Any) -> dict[str, Any]:
    body = json.loads(row["body"]) if isinstance(row["body"], str) else row["body"]
    agreement_raw = json.loads(row["agreement"]) if isinstance(row["agreement"], str) else row["agreement"]
    event_id, now = str(uuid.uuid4()), datetime.now(UTC)

    def rejected(code: str, message: str) -> dict[str, Any]:
        return ev.request_rejected_event(row["event_id"], code, message, event_id=event_id, source=source, time=now)

    if LIST_SCOPE not in row["scopes"]:
        return rejected("AccessDenied", f"the client lacks the {LIST_SCOPE} scope")
    try:
        criteria = ev.parse_event(body).criteria
        filters = from_criteria(criteria)
        agreement = RecognitionAgreement.model_validate(agreement_raw)
    except (EventError, FilterError) as exc:
        return rejected("BadRequest", str(exc))
    except ValidationError:
        return rejected("AccessDenied", "no usable recognition agreement")
    ring = await keys.get()
    page = await catalogue.list(agreement, filters, None, MAX_PFS, ring, max_scan=20_000)
    if not page.records:
        return rejected("NotFound", "no footprint matches the request")
    footprints = [r.footprint for r in page.records]
    return ev.request_fulfilled_event(row["event_id"], footprints, event_id=event_id, source=source, time=now)


async def run_worker(
    catalogue: Catalogue,
    keys: KeySource,
    source: str,
    wakeup: asyncio.Event,
    poll_seconds: float,
    retention_days: float,
    housekeeping: Sequence[Callable[[], Awaitable[int]]] = (),
) -> None:
    """Answer RequestCreated events as they come; every PURGE_EVERY_S delete old events and run
    `housekeeping` (idle rate-limit buckets, records stored under a retired key)."""
    purged_at = float("-inf")
    while True:
        try:
            while await answer_pending(catalogue, keys, source):
                pass
            if time.monotonic() - purged_at >= PURGE_EVERY_S:
                while await catalogue.repo.purge_events(retention_days):
                    pass
                for purge in housekeeping:
                    await purge()
                purged_at = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception:  # keep answering later requests; the failed batch stays unanswered and is retried
            log.exception("answering RequestCreated events failed")
        try:
            await asyncio.wait_for(wakeup.wait(), poll_seconds)
        except TimeoutError:
            pass
        wakeup.clear()
