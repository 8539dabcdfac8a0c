"""What the window use case (service.py) needs from storage: one transaction's view of the footprint
tables (WindowStore) and a way to open one (Transactions).

The PostgreSQL adapter is pg_store.py; unit tests use an in-memory one. Every method runs inside
the transaction the store belongs to: the use case applies one window per transaction, and a store
whose transaction fails is rolled back as a whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from .domain.drift import DriftPolicy, DriftState, PolicyBook
from .outcomes import WindowOutcome
from .versions import NewVersion
from .windows import LiveInventory, WindowFacts

Evidence = dict[str, Any]  # one window of a drift streak: WindowFacts.evidence


@dataclass(frozen=True)
class StoredSystem:
    system_id: str
    version: int
    document: dict[str, Any]
    binding: dict[str, Any]
    factor_set_version: str


@dataclass(frozen=True)
class PublishedSeries:
    series_id: uuid.UUID
    product_id: str
    plant_id: str
    pcr_id: str
    pf_id: uuid.UUID
    value: Decimal  # published A1-A3 GWP-total
    allocation_basis: str
    allocation_price_basis: str | None
    gwp_set: str
    declared_unit: str


@dataclass(frozen=True)
class DriftEvent:
    series_id: uuid.UUID
    product_id: str
    cause: str
    origin: str  # registry product the drift started at
    direction: str | None
    percent: Decimal
    live: Decimal
    published: Decimal
    reason: str
    evidence: list[Evidence]
    window_id: str
    revision: int
    pf_id: uuid.UUID  # the provisional version it created


@dataclass(frozen=True)
class RejectedRecord:
    topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    payload: bytes | None


class WindowStore(Protocol):
    # -- windows seen ------------------------------------------------------------------------------
    async def window_seen(self, window_id: str, revision: int) -> bool: ...

    async def mark_window(self, facts: WindowFacts) -> bool:
        """Record the window as applied; False when (window_id, revision) is recorded already."""
        ...

    async def set_window_outcome(self, facts: WindowFacts, outcome: WindowOutcome) -> None: ...

    async def reject_record(self, record: RejectedRecord) -> None: ...

    # -- product systems and their live inventories ---------------------------------------------------
    async def systems_for_process(self, process_id: str) -> list[str]:
        """Systems whose current version binds a telemetry-backed process to this registry process, sorted."""
        ...

    async def lock_system(self, system_id: str) -> None:
        """Serialise window application per product system across workers, until the transaction ends."""
        ...

    async def current_version(self, system_id: str) -> int | None: ...

    async def current_system(self, system_id: str) -> StoredSystem | None: ...

    async def process_plants(self, process_ids: list[str]) -> dict[str, str]: ...

    async def live_inventories(self, system_id: str) -> dict[str, LiveInventory]: ...

    async def live_bases(self, system_id: str) -> dict[str, tuple[str, int]]:
        """engine process -> (window_id, revision) of its stored live inventory."""
        ...

    async def save_live_inventory(self, system_id: str, process: str, inventory: LiveInventory) -> None: ...

    # -- window totals: what live inventories are folded from (audit snapshots name them) ---------------
    async def save_window_totals(self, facts: WindowFacts) -> None: ...

    async def window_totals(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], WindowFacts]:
        """Stored totals of these (window_id, revision); windows applied before totals were stored are missing."""
        ...

    # -- published series, the drift rule's state, versions ---------------------------------------------
    async def published_series(self, pairs: list[tuple[str, str | None]]) -> dict[str, PublishedSeries]:
        """Published series by registry product; `pairs` = (product, plant, or None for any single plant)."""
        ...

    async def policy_book(self, default: DriftPolicy) -> PolicyBook: ...

    async def drift_states(self, series_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[DriftState, list[Evidence]]]:
        """The hysteresis state and current streak of each series that has one (locked)."""
        ...

    async def save_drift_state(
        self, series_id: uuid.UUID, state: DriftState, live: Decimal, percent: Decimal, streak: list[Evidence]
    ) -> None: ...

    async def create_version(self, new: NewVersion) -> uuid.UUID:
        """A new version of a series with its audit snapshot (if any) and outbox row; raises
        versions.AlreadyOpen when the series has an open version (the transaction stays usable)."""
        ...

    async def record_drift_event(self, event: DriftEvent) -> None: ...


# Opens one transaction: committed when the block exits normally, rolled back when it raises.
Transactions = Callable[[], AbstractAsyncContextManager[WindowStore]]
