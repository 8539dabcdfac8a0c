"""The footprint service: apply an intensity window, re-solve, run the drift rule, write versions.

One window is one PostgreSQL transaction:
  lock the product systems the window's process feeds (advisory lock per system: workers on the
  same stream serialise per system) -> record (window_id, revision) (a replay stops here) -> bring
  the in-memory live system in line with the database (other workers may have moved it) -> fold the
  window into the process's live inventory -> LiveSystem.replace_process -> live A1-A3 GWP-total of
  every product downstream -> drift rule per published series (hysteresis state in the database) ->
  cascade -> provisional versions + results + evidence + outbox rows + drift events.
If two workers still race on one series, the partial unique index epd_versions_one_open lets one
version in; the other gets AlreadyOpen and treats the drift as done.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from prometheus_client import Counter, Histogram

from epd.v1 import intensity_pb2
from epd_common.db import transaction
from epd_common.metrics import FRESHNESS_BUCKETS
from epd_common.topics import INTENSITY_WINDOWS, MalformedRecordError

from . import repository as repo
from .binding import Binding, parse_binding
from .domain.cascade import Cause, ProvisionalTarget, cascade
from .domain.drift import Direction, DriftPolicy, DriftState, evaluate
from .domain.lifecycle import Status
from .engine import LiveSystem, ProductSystemError, parse_system
from .engine.model import ProductSystem
from .engine.results import gwp_table
from .versions import AlreadyOpen, NewVersion, create_version
from .windows import LiveInventory, WindowError, WindowFacts, fold, is_newer, live_process, read_window

log = logging.getLogger(__name__)
MAX_STREAK = 100

WINDOWS = Counter("epd_footprint_windows_total", "Intensity windows handled, by outcome", ["outcome"])
VERSIONS = Counter("epd_footprint_versions_created_total", "Provisional versions created by drift, by cause", ["cause"])
EVALUATIONS = Counter("epd_footprint_drift_evaluations_total", "Drift-rule evaluations")
APPLY_SECONDS = Histogram("epd_footprint_window_apply_seconds", "Time to apply one window (one transaction)")
VERSION_FRESHNESS = Histogram(
    "epd_footprint_version_freshness_seconds",
    "End of the intensity window that triggered it -> provisional version created",
    buckets=FRESHNESS_BUCKETS,
)


@dataclass
class SystemState:
    system_id: str
    version: int
    system: ProductSystem  # as declared
    binding: Binding
    live: LiveSystem
    inventories: dict[str, LiveInventory]  # engine process -> overrides applied in memory
    plants: dict[str, str]  # engine process -> plant id
    producer: dict[str, str]  # engine product -> engine process
    consumers: dict[str, set[str]]  # engine product -> products made from it directly


def build_state(
    system_id: str,
    version: int,
    document: dict,
    binding_doc: dict,
    plants: dict[str, str],
    inventories: dict[str, LiveInventory],
) -> SystemState:
    system = parse_system(document)
    binding = parse_binding(binding_doc, system)
    live = LiveSystem(system)
    applied: dict[str, LiveInventory] = {}
    for proc, inv in inventories.items():
        if proc in system.processes:
            live.replace_process(live_process(system.processes[proc], inv))
            applied[proc] = inv
    producer: dict[str, str] = {}
    consumers: dict[str, set[str]] = {}
    for p in system.processes.values():
        for o in p.outputs:
            producer.setdefault(o.product, p.id)
            for x in p.inputs:
                if x.is_product:
                    consumers.setdefault(x.ref, set()).add(o.product)
    proc_plants = {k: plants[b.process_id] for k, b in binding.processes.items() if b.process_id in plants}
    return SystemState(system_id, version, system, binding, live, applied, proc_plants, producer, consumers)


class FootprintService:
    def __init__(
        self, pool: asyncpg.Pool, *, sizes: Iterable[str] = ("ROLLING_30D",), default_policy: DriftPolicy | None = None
    ) -> None:
        self.pool = pool
        self.sizes = frozenset(sizes)
        self.default_policy = default_policy or DriftPolicy()
        self.states: dict[str, SystemState] = {}

    async def handle_record(self, topic: str, partition: int, offset: int, value: bytes | None) -> str:
        """Decode and apply one record; bad records become rows in footprint_rejected_windows."""
        try:
            if not value:
                raise WindowError("empty", "record has no value")
            msg = INTENSITY_WINDOWS.decode(value)
            facts = read_window(msg)
        except (MalformedRecordError, WindowError) as exc:
            reason = exc.reason if isinstance(exc, WindowError) else "malformed"
            async with transaction(self.pool) as conn:
                await repo.reject_record(conn, topic, partition, offset, reason, str(exc), value)
            WINDOWS.labels(f"rejected_{reason}").inc()
            return f"rejected:{reason}"
        return await self.apply(facts)

    async def apply_message(self, msg: intensity_pb2.IntensityWindow) -> str:
        return await self.apply(read_window(msg))

    async def apply(self, facts: WindowFacts) -> str:
        with APPLY_SECONDS.time():
            try:
                outcome = await self._apply(facts)
            except BaseException:
                self.states.clear()  # the in-memory live systems may be ahead of a rolled-back transaction
                raise
        WINDOWS.labels(outcome.split(":", 1)[0]).inc()
        return outcome

    async def _apply(self, facts: WindowFacts) -> str:
        async with transaction(self.pool) as conn:
            if await repo.window_seen(conn, facts.window_id, facts.revision):
                return "duplicate"
            system_ids = await repo.systems_for_process(conn, facts.process_id)
            for sid in system_ids:  # sorted: no lock-order deadlocks between workers
                await repo.lock_system(conn, sid)
            if not await repo.mark_window(conn, facts, "applied"):
                return "duplicate"
            if facts.size not in self.sizes:
                outcome = "ignored_size"
            elif not system_ids:
                outcome = "unbound"
            else:
                results = [await self._apply_to(conn, await self._sync(conn, sid), facts) for sid in system_ids]
                outcome = "applied" if "applied" in results else results[0]
            if outcome != "applied":
                await repo.set_window_outcome(conn, facts, outcome.split(":", 1)[0], outcome)
            return outcome

    async def _sync(self, conn: asyncpg.Connection, system_id: str) -> SystemState:
        """The in-memory state of a system, matching the database (under the system's lock)."""
        state = self.states.get(system_id)
        version = await repo.current_version(conn, system_id)
        if state is not None and state.version == version:
            bases = await repo.live_bases(conn, system_id)
            mine = {p: (i.window_id, i.revision) for p, i in state.inventories.items()}
            if bases == mine:
                return state
        stored = await repo.current_system(conn, system_id)
        assert stored is not None
        plants = await repo.process_plants(
            conn, [b["process_id"] for b in stored.binding.get("processes", {}).values()]
        )
        inventories = await repo.live_inventories(conn, system_id)
        state = build_state(system_id, stored.version, stored.document, stored.binding, plants, inventories)
        self.states[system_id] = state
        return state

    async def _apply_to(self, conn: asyncpg.Connection, state: SystemState, facts: WindowFacts) -> str:
        outcome = "unbound"
        for pb in state.binding.for_registry_process(facts.process_id):
            if not pb.telemetry:
                continue
            declared = state.system.processes[pb.engine_process_id]
            if not is_newer(state.inventories.get(pb.engine_process_id), facts):
                outcome = "stale"
                continue
            try:
                inv = fold(declared, pb, state.binding.registry_product(declared.outputs[0].product), facts)
                state.live.replace_process(live_process(declared, inv))
            except WindowError as exc:
                return f"{exc.reason}:{exc.message}"
            except ProductSystemError as exc:
                self.states.pop(state.system_id, None)
                return f"engine_{exc.reason.value}:{exc}"
            state.inventories[pb.engine_process_id] = inv
            await repo.save_live_inventory(conn, state.system_id, pb.engine_process_id, inv)
            await self._evaluate(conn, state, pb.engine_process_id, facts)
            outcome = "applied"
        return outcome

    async def _evaluate(self, conn: asyncpg.Connection, state: SystemState, process: str, facts: WindowFacts) -> None:
        products = sorted(p for p in state.live.downstream(process) if p in state.system.products)
        reg = state.binding.registry_product
        pairs = [(reg(p), state.plants.get(state.producer.get(p, ""))) for p in products]
        by_reg = await repo.published_series(conn, pairs)
        published = {p: by_reg[reg(p)] for p in products if reg(p) in by_reg}
        if not published:
            return
        book = await repo.policy_book(conn, self.default_policy)
        res = state.live.results
        live = {p: gwp_table(res, res.compiled.row_index[p])["A1-A3"]["GWP-total"] for p in products}
        states = await repo.drift_states(conn, [s.series_id for s in published.values()])
        policy_for = lambda p: book.policy_for(reg(p), published[p].pcr_id if p in published else None)  # noqa: E731
        origins, new_states, streaks = {}, {}, {}
        for p, s in published.items():
            EVALUATIONS.inc()
            old, streak = states.get(s.series_id, (DriftState(), []))
            new, decision = evaluate(policy_for(p), old, live[p], s.value)
            if streak and not later_period(facts.end, streak[-1]):
                # Windows of other upstream processes for a period this series was already evaluated
                # in: the live value is recorded, but "N consecutive evaluations" means N successive
                # periods, so one distorted period cannot fire the rule by itself.
                await repo.save_drift_state(conn, s.series_id, old, live[p], decision.percent, streak)
                new_states[p], streaks[p] = old, streak  # as it stands: a cascade may still reach it
                continue
            streak = [*streak, facts.evidence][-MAX_STREAK:] if new.consecutive > 0 else []
            new_states[p], streaks[p] = new, streak
            await repo.save_drift_state(conn, s.series_id, new, live[p], decision.percent, streak)
            if decision.drifted:
                origins[p] = decision
        if not origins:
            return
        # Products that fired and lie downstream of another product that fired are the cascade's
        # to label (cause "cascade", origin the upstream product); the roots are the origins.
        below = set().union(*(_closure(state.consumers, p) for p in origins))
        roots = {p: d for p, d in origins.items() if p not in below}
        result = cascade(
            roots,
            live=live,
            published={p: s.value for p, s in published.items()},
            downstream=state.consumers,
            policy_for=policy_for,
        )
        reached = result.product_ids
        extra = [
            ProvisionalTarget(p, Cause.DRIFT, p, d.percent, d.reason) for p, d in origins.items() if p not in reached
        ]
        for target in (*result.targets, *extra):
            s = published[target.product_id]
            evidence = streaks[target.origin] or [facts.evidence]
            new_version = NewVersion(
                series_id=s.series_id,
                status=Status.PROVISIONAL,
                results=gwp_table(res, res.compiled.row_index[target.product_id]),
                reason=target.reason,
                period_start=min(_iso(e["window_start"]) for e in evidence),
                period_end=max(_iso(e["window_end"]) for e in evidence),
                factor_set_version=state.binding.factor_set_version,
                allocation_basis=s.allocation_basis,
                allocation_price_basis=s.allocation_price_basis,
                gwp_set=s.gwp_set,
                declared_unit=s.declared_unit,
                trigger_key=f"{target.cause.value}:{target.origin}:{facts.window_id}:{facts.revision}",
                evidence=evidence,
            )
            try:
                pf_id: uuid.UUID | None = await create_version(conn, new_version, "created")
            except AlreadyOpen:
                log.info("series already has an open version", extra={"series_id": str(s.series_id)})
                continue
            VERSIONS.labels(target.cause.value).inc()
            VERSION_FRESHNESS.observe(max(0.0, (datetime.now(UTC) - facts.end).total_seconds()))
            direction = new_states[target.product_id].direction
            if target.cause is Cause.CASCADE:
                sign = target.percent
                direction = Direction.DETERIORATION if sign > 0 else Direction.IMPROVEMENT
                await repo.save_drift_state(
                    conn,
                    s.series_id,
                    DriftState(new_states[target.product_id].consecutive, direction, True),
                    live[target.product_id],
                    sign,
                    streaks[target.product_id],
                )
            await repo.record_drift_event(
                conn,
                series_id=s.series_id,
                product_id=s.product_id,
                cause=target.cause.value,
                origin=reg(target.origin),
                direction=direction.value if direction else None,
                percent=target.percent,
                live=live[target.product_id],
                published=s.value,
                reason=target.reason,
                evidence=evidence,
                facts=facts,
                pf_id=pf_id,
            )


def _closure(consumers: dict[str, set[str]], product: str) -> set[str]:
    """Products made, directly or not, from `product` (excluding itself unless in a loop)."""
    seen: set[str] = set()
    todo = list(consumers.get(product, ()))
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(consumers.get(p, ()))
    return seen


def later_period(window_end: datetime, last: dict) -> bool:
    """Whether a window ends after the last evaluated period of a streak (its evidence entry)."""
    return window_end > _iso(last["window_end"])


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
