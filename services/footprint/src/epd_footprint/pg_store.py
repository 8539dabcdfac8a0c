"""The PostgreSQL adapter of store.WindowStore: repository.py's SQL (and versions.create_version) in
one asyncpg transaction."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg

from epd_common.db import transaction

from . import repository as repo
from .domain.drift import DriftPolicy, DriftState, PolicyBook
from .outcomes import APPLIED, WindowOutcome
from .store import DriftEvent, Evidence, PublishedSeries, RejectedRecord, StoredSystem, Transactions, WindowStore
from .versions import NewVersion, create_version
from .windows import LiveInventory, WindowFacts


class PgWindowStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def window_seen(self, window_id: str, revision: int) -> bool:
        return await repo.window_seen(self.conn, window_id, revision)

    async def mark_window(self, facts: WindowFacts) -> bool:
        return await repo.mark_window(self.conn, facts, APPLIED.stored)

    async def set_window_outcome(self, facts: WindowFacts, outcome: WindowOutcome) -> None:
        await repo.set_window_outcome(self.conn, facts, outcome.stored, outcome.stored_detail)

    async def reject_record(self, record: RejectedRecord) -> None:
        await repo.reject_record(
            self.conn, record.topic, record.partition, record.offset, record.reason, record.detail, record.payload
        )

    async def systems_for_process(self, process_id: str) -> list[str]:
        return await repo.systems_for_process(self.conn, process_id)

    async def lock_system(self, system_id: str) -> None:
        await repo.lock_system(self.conn, system_id)

    async def current_version(self, system_id: str) -> int | None:
        return await repo.current_version(self.conn, system_id)

    async def current_system(self, system_id: str) -> StoredSystem | None:
        return await repo.current_system(self.conn, system_id)

    async def process_plants(self, process_ids: list[str]) -> dict[str, str]:
        return await repo.process_plants(self.conn, process_ids)

    async def live_inventories(self, system_id: str) -> dict[str, LiveInventory]:
        return await repo.live_inventories(self.conn, system_id)

    async def live_bases(self, system_id: str) -> dict[str, tuple[str, int]]:
        return await repo.live_bases(self.conn, system_id)

    async def save_live_inventory(self, system_id: str, process: str, inventory: LiveInventory) -> None:
        await repo.save_live_inventory(self.conn, system_id, process, inventory)

    async def save_window_totals(self, facts: WindowFacts) -> None:
        await repo.save_window_totals(self.conn, facts)

    async def window_totals(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], WindowFacts]:
        return await repo.window_totals(self.conn, keys)

    async def published_series(self, pairs: list[tuple[str, str | None]]) -> dict[str, PublishedSeries]:
        return await repo.published_series(self.conn, pairs)

    async def policy_book(self, default: DriftPolicy) -> PolicyBook:
        return await repo.policy_book(self.conn, default)

    async def drift_states(self, series_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[DriftState, list[Evidence]]]:
        return await repo.drift_states(self.conn, series_ids)

    async def save_drift_state(
        self, series_id: uuid.UUID, state: DriftState, live: Decimal, percent: Decimal, streak: list[Evidence]
    ) -> None:
        await repo.save_drift_state(self.conn, series_id, state, live, percent, streak)

    async def create_version(self, new: NewVersion) -> uuid.UUID:
        return await create_version(self.conn, new, "created")

    async def record_drift_event(self, event: DriftEvent) -> None:
        await repo.record_drift_event(self.conn, event)


def pg_transactions(pool: asyncpg.Pool) -> Transactions:
    """One PgWindowStore per transaction on a connection of `pool`."""

    @contextlib.asynccontextmanager
    async def open_transaction() -> AsyncIterator[WindowStore]:
        async with transaction(pool) as conn:
            yield PgWindowStore(conn)

    return open_transaction
