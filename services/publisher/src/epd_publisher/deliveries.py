"""What the delivery sender (sender.py) needs from storage: the deliveries that are due, a way to put
one off, and the record of one attempt with what it decided.

``pg_deliveries.PgDeliveryStore`` is the PostgreSQL adapter (``deliveries``, ``delivery_attempts``,
``partner_endpoints``); unit tests use an in-memory store with the same rules:

- ``claim`` takes pending deliveries that are due (``next_attempt_at <= now``) on enabled endpoints of
  enabled partners, that no other sender holds, within ``ClaimSlots``: at most ``total``, and per
  partner at most its free slots (``per_partner`` minus what this sender has in flight for it), oldest
  due first within a partner and partners taken in turn (one slow partner cannot fill a claim). It
  leases them: their ``next_attempt_at`` moves to ``lease_until``, so a sender killed mid-attempt loses
  its claims only until the lease ends. ``lease_until`` is the lease's token: ``DueDelivery.lease_until``.
- ``defer`` moves one delivery's next attempt without spending an attempt (open breaker, a secret
  that does not decrypt, a lease too short for another attempt).
- ``record`` writes one attempt and its outcome as one unit: the delivery's state and schedule, the
  attempt's log row, and the consequences the sender decided (an endpoint disabled together with its
  pending deliveries; a gateway answer marked sent).
- ``defer`` and ``record`` change a delivery only while the caller still holds its lease (state
  ``pending`` and ``next_attempt_at`` equal to the lease's end); they return False and write nothing
  otherwise: a late finisher whose lease ran out and whose delivery another sender took (and perhaps
  delivered) changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class ClaimSlots:
    """How many deliveries one claim may take: ``total`` in all, and per partner ``per_partner`` minus
    what the claiming sender already has in flight for that partner (``busy``)."""

    total: int
    per_partner: int
    busy: Mapping[str, int] = field(default_factory=dict)

    def free(self, partner_id: str) -> int:
        return max(0, self.per_partner - self.busy.get(partner_id, 0))

    def choose(self, candidates: list[tuple[int, str]]) -> list[int]:
        """Indexes of the candidates to take. ``candidates`` are (rank within the partner, partner id),
        sorted by rank then due time: partners are taken in turn, each up to its free slots."""
        taken: dict[str, int] = {}
        chosen: list[int] = []
        for index, (_, partner) in enumerate(candidates):
            if len(chosen) >= self.total:
                break
            if taken.get(partner, 0) < self.free(partner):
                taken[partner] = taken.get(partner, 0) + 1
                chosen.append(index)
        return chosen


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
    lease_until: datetime  # the claim's lease; defer and record act only while it is held


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt and its outcome, written together by ``DeliveryStore.record``."""

    delivery_id: int
    lease_until: datetime  # the lease the attempt ran under (DueDelivery.lease_until)
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

    async def claim(self, now: datetime, lease_until: datetime, slots: ClaimSlots) -> list[DueDelivery]:
        """Lease due deliveries on enabled endpoints of enabled partners within ``slots``, none held elsewhere."""
        ...

    async def next_due(self) -> datetime | None:
        """The earliest ``next_attempt_at`` of a pending delivery on an enabled endpoint of an enabled partner."""
        ...

    async def defer(self, delivery_id: int, lease_until: datetime, until: datetime) -> bool:
        """Move the next attempt to ``until`` (no attempt spent) if the lease is still held; False if not."""
        ...

    async def record(self, attempt: AttemptRecord) -> bool:
        """Write the attempt and its outcome (see AttemptRecord) atomically if its lease is still held;
        False (nothing written) if not."""
        ...
