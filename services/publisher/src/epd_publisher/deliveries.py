"""What the delivery sender (sender.py) needs from storage: the deliveries that are due, a way to put
one off, and the record of one attempt with what it decided.

``pg_deliveries.PgDeliveryStore`` is the PostgreSQL adapter (``deliveries``, ``delivery_attempts``,
``partner_endpoints``); unit tests use an in-memory store with the same rules:

- ``claim`` takes pending deliveries that are due (``next_attempt_at <= now``) on enabled endpoints,
  oldest due first, that no other sender holds, and leases them: their ``next_attempt_at`` moves to
  ``lease_until``, so a sender killed mid-attempt loses its claims only until the lease ends.
- ``defer`` moves one delivery's next attempt without spending an attempt (open breaker, a secret
  that does not decrypt).
- ``record`` writes one attempt and its outcome as one unit: the delivery's state and schedule, the
  attempt's log row, and the consequences the sender decided (an endpoint disabled together with its
  pending deliveries; a gateway answer marked sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from epd_publisher.delivery.retry import Action

#: ``deliveries.kind``: a footprint change (a FootprintChanged payload), or a gateway answer to a PACT
#: RequestCreated event (pact_events.py; the CloudEvent as the gateway wrote it).
FOOTPRINT_CHANGE = "footprint"
PACT_EVENT = "pact-event"


class DeliveryState(StrEnum):
    """``deliveries.state``."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    DISABLED = "disabled"


#: The state a delivery is left in after an attempt that decided ``action``.
STATE_AFTER: dict[Action, DeliveryState] = {
    Action.DELIVERED: DeliveryState.DELIVERED,
    Action.RETRY: DeliveryState.PENDING,
    Action.DEAD_LETTER: DeliveryState.DEAD,
    Action.DISABLE_ENDPOINT: DeliveryState.DISABLED,
}


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery with its endpoint (secrets still sealed) and the partner's viewpoint."""

    delivery_id: int
    event_id: str
    partner_id: str
    kind: str  # FOOTPRINT_CHANGE or PACT_EVENT
    payload: bytes
    attempts: int  # spent so far
    first_attempt_at: datetime | None
    accepts_provisional: bool
    endpoint_id: str
    url: str
    format: str
    signing: str
    secret_sealed: bytes | None
    token_url: str | None
    client_id: str | None
    client_secret_sealed: bytes | None
    allow_private: bool


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt and its outcome, written together by ``DeliveryStore.record``."""

    delivery_id: int
    attempt: int  # 1-based
    attempted_at: datetime
    first_attempt_at: datetime
    duration_ms: int
    status: int | None  # the HTTP status, None when there was none
    error: str | None  # a delivery.retry.TransportError value
    action: Action
    reason: str
    state: DeliveryState
    next_attempt_at: datetime
    #: Disable this endpoint (with this attempt's reason) and finish its pending deliveries as 'disabled'.
    disable_endpoint: str | None = None
    #: Mark this gateway answer (``gateway_outgoing_events.event_id``) sent.
    answer_sent: str | None = None


class DeliveryStore(Protocol):
    @property
    def retryable(self) -> tuple[type[Exception], ...]:
        """Errors of this store the sender's loop logs and retries on the next round (connection lost, ...)."""
        ...

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[DueDelivery]:
        """Lease up to ``limit`` due deliveries on enabled endpoints, oldest due first, none held elsewhere."""
        ...

    async def next_due(self) -> datetime | None:
        """The earliest ``next_attempt_at`` of a pending delivery on an enabled endpoint."""
        ...

    async def defer(self, delivery_id: int, until: datetime) -> None:
        """Move the next attempt to ``until``; no attempt is spent."""
        ...

    async def record(self, attempt: AttemptRecord) -> None:
        """Write the attempt and its outcome (see AttemptRecord) atomically."""
        ...
