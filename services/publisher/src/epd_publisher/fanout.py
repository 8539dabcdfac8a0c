"""Fan-out of one change event into partner deliveries: which partners get it (their RecognitionAgreement,
``epd_records.recognition.delivers``) and one delivery per enabled endpoint of each.

The use case runs against FanoutStore (PostgreSQL: ``pg_partners.PgFanoutStore``, inside the transaction
that advances the fan-out subscriber's position). A store creates a delivery at most once per
(event, endpoint), so a re-consumed event creates nothing new.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from epd.v1 import footprint_pb2
from epd_records.recognition import RecognitionAgreement, delivers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartnerTargets:
    """An enabled partner with a valid agreement and its enabled endpoints."""

    agreement: RecognitionAgreement
    endpoint_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    event_id: str
    endpoint_id: str
    partner_id: str
    product_id: str
    product_sequence: int
    payload: bytes  # the serialised FootprintChanged
    next_attempt_at: datetime


class FanoutStore(Protocol):
    async def targets(self) -> list[PartnerTargets]:
        """Enabled partners with a valid agreement and at least one enabled endpoint, by partner id."""
        ...

    async def create_delivery(self, delivery: NewDelivery) -> bool:
        """Queue the delivery; False when this (event, endpoint) has one already."""
        ...


async def fan_out(
    store: FanoutStore, event: footprint_pb2.FootprintChanged, targets: list[PartnerTargets], now: datetime
) -> int:
    """Create the deliveries of one change event, due ``now``; returns how many were new."""
    try:
        uuid.UUID(event.event_id)
    except ValueError:
        log.error("change event id is not a UUID; no deliveries", extra={"event_id": event.event_id[:80]})
        return 0
    payload = event.SerializeToString(deterministic=True)
    created = 0
    for target in targets:
        decision = delivers(target.agreement, event)
        if not decision:
            log.debug("not delivered", extra={"partner_id": target.agreement.partner_id, "reason": decision.reason})
            continue
        for endpoint_id in target.endpoint_ids:
            delivery = NewDelivery(
                event.event_id,
                endpoint_id,
                target.agreement.partner_id,
                event.product_id,
                event.product_sequence,
                payload,
                now,
            )
            created += await store.create_delivery(delivery)
    return created
