"""An in-memory store.WindowStore for unit tests of the window use case (no database).

`MemoryDatabase.transactions` opens a transaction on a copy of the tables and commits it by
replacing them when the block exits normally, so a failed window leaves nothing behind, as a
rolled-back PostgreSQL transaction does. The queries follow repository.py's SQL.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

from epd_footprint.domain.drift import DriftPolicy, DriftState, PolicyBook
from epd_footprint.outcomes import APPLIED, WindowOutcome
from epd_footprint.store import DriftEvent, Evidence, PublishedSeries, RejectedRecord, StoredSystem, WindowStore
from epd_footprint.versions import AlreadyOpen, NewVersion
from epd_footprint.windows import LiveInventory, WindowFacts


@dataclass
class Tables:
    systems: dict[str, list[StoredSystem]] = field(default_factory=dict)  # system -> its versions
    plants: dict[str, str] = field(default_factory=dict)  # registry process -> plant
    series: list[PublishedSeries] = field(default_factory=list)
    policies: dict[str, dict[str, DriftPolicy]] = field(default_factory=lambda: {"product": {}, "pcr": {}})
    windows: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)  # -> (outcome, detail)
    rejected: list[RejectedRecord] = field(default_factory=list)
    live: dict[str, dict[str, LiveInventory]] = field(default_factory=dict)  # system -> process -> inventory
    drift: dict[uuid.UUID, tuple[DriftState, list[Evidence], Decimal, Decimal]] = field(default_factory=dict)
    versions: dict[uuid.UUID, NewVersion] = field(default_factory=dict)  # pf_id -> version
    totals: dict[tuple[str, int], WindowFacts] = field(default_factory=dict)  # footprint_window_totals
    events: list[DriftEvent] = field(default_factory=list)


class MemoryWindowStore:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def window_seen(self, window_id: str, revision: int) -> bool:
        return (window_id, revision) in self.t.windows

    async def mark_window(self, facts: WindowFacts) -> bool:
        key = (facts.window_id, facts.revision)
        if key in self.t.windows:
            return False
        self.t.windows[key] = (APPLIED.stored, "")
        return True

    async def set_window_outcome(self, facts: WindowFacts, outcome: WindowOutcome) -> None:
        self.t.windows[(facts.window_id, facts.revision)] = (outcome.stored, outcome.stored_detail)

    async def reject_record(self, record: RejectedRecord) -> None:
        self.t.rejected.append(record)

    async def systems_for_process(self, process_id: str) -> list[str]:
        return sorted(
            sid
            for sid, versions in self.t.systems.items()
            if any(
                b.get("process_id") == process_id and b.get("telemetry", True)
                for b in versions[-1].binding.get("processes", {}).values()
            )
        )

    async def lock_system(self, system_id: str) -> None:
        pass  # one test, one task

    async def current_version(self, system_id: str) -> int | None:
        versions = self.t.systems.get(system_id)
        return versions[-1].version if versions else None

    async def current_system(self, system_id: str) -> StoredSystem | None:
        versions = self.t.systems.get(system_id)
        return versions[-1] if versions else None

    async def process_plants(self, process_ids: list[str]) -> dict[str, str]:
        return {p: self.t.plants[p] for p in process_ids if p in self.t.plants}

    async def live_inventories(self, system_id: str) -> dict[str, LiveInventory]:
        return dict(self.t.live.get(system_id, {}))

    async def live_bases(self, system_id: str) -> dict[str, tuple[str, int]]:
        return {p: (i.window_id, i.revision) for p, i in self.t.live.get(system_id, {}).items()}

    async def save_live_inventory(self, system_id: str, process: str, inventory: LiveInventory) -> None:
        self.t.live.setdefault(system_id, {})[process] = inventory

    async def save_window_totals(self, facts: WindowFacts) -> None:
        self.t.totals.setdefault((facts.window_id, facts.revision), facts)

    async def window_totals(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], WindowFacts]:
        return {k: self.t.totals[k] for k in keys if k in self.t.totals}

    async def published_series(self, pairs: list[tuple[str, str | None]]) -> dict[str, PublishedSeries]:
        wanted = dict(pairs)
        found: dict[str, list[PublishedSeries]] = {}
        for s in sorted(self.t.series, key=lambda s: (s.product_id, s.plant_id)):
            if s.product_id in wanted and wanted[s.product_id] in (None, s.plant_id):
                found.setdefault(s.product_id, []).append(s)
        return {p: s[0] for p, s in found.items() if len(s) == 1}

    async def policy_book(self, default: DriftPolicy) -> PolicyBook:
        return PolicyBook(default, by_pcr=dict(self.t.policies["pcr"]), by_product=dict(self.t.policies["product"]))

    async def drift_states(self, series_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[DriftState, list[Evidence]]]:
        return {s: (self.t.drift[s][0], copy.deepcopy(self.t.drift[s][1])) for s in series_ids if s in self.t.drift}

    async def save_drift_state(
        self, series_id: uuid.UUID, state: DriftState, live: Decimal, percent: Decimal, streak: list[Evidence]
    ) -> None:
        self.t.drift[series_id] = (state, copy.deepcopy(streak), live, percent)

    async def create_version(self, new: NewVersion) -> uuid.UUID:
        if any(v.series_id == new.series_id and v.status in ("draft", "provisional") for v in self.t.versions.values()):
            raise AlreadyOpen("already_open", f"series {new.series_id} already has an open version")
        pf_id = uuid.uuid4()
        self.t.versions[pf_id] = new
        return pf_id

    async def record_drift_event(self, event: DriftEvent) -> None:
        self.t.events.append(event)


class MemoryDatabase:
    def __init__(self) -> None:
        self.tables = Tables()

    @contextlib.asynccontextmanager
    async def transactions(self) -> AsyncIterator[WindowStore]:
        working = copy.deepcopy(self.tables)
        yield MemoryWindowStore(working)
        self.tables = working  # reached only when the block did not raise: commit
