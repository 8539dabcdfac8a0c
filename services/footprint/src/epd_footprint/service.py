"""The footprint service: apply an intensity window, re-solve, run the drift rule, write versions.

One window is one transaction (a store.WindowStore: pg_store.py on PostgreSQL, in memory in tests):
  lock the product systems the window's process feeds (advisory lock per system: workers on the
  same stream serialise per system) -> record (window_id, revision) (a replay stops here) -> bring
  the in-memory live system in line with the database (other workers may have moved it) -> fold the
  window into the process's live inventory -> LiveSystem.replace_process -> live A1-A3 GWP-total of
  every product downstream -> drift rule per published series (hysteresis state in the database) ->
  cascade -> provisional versions (figures from a fresh, canonical solve of the live system, with the
  audit snapshot that reproduces them) + results + evidence + outbox rows + drift events.
If two workers still race on one series, the partial unique index epd_versions_one_open lets one
version in; the other gets AlreadyOpen and treats the drift as done. Every window ends in a
WindowOutcome (outcomes.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

from epd.v1 import intensity_pb2
from epd_common.metrics import FRESHNESS_BUCKETS
from epd_common.topics import INTENSITY_WINDOWS, MalformedRecord

from .domain.cascade import Cause, ProvisionalTarget, cascade
from .domain.drift import Direction, DriftDecision, DriftPolicy, DriftState, evaluate
from .domain.lifecycle import Status
from .engine import ProductSystemError
from .engine.pcr import upstream_processes
from .engine.results import gwp_table
from .outcomes import APPLIED, DUPLICATE, IGNORED_SIZE, STALE, UNBOUND, OutcomeKind, WindowOutcome
from .snapshot import SystemRef, build_snapshot, canonical_results, evidence_of
from .store import DriftEvent, Evidence, RejectedRecord, Transactions, WindowStore
from .systems import SystemState, build_state, closure
from .versions import AlreadyOpen, NewVersion
from .windows import WindowError, WindowFacts, fold, is_newer, live_process, read_window

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


class FootprintService:
    def __init__(
        self,
        transactions: Transactions,
        *,
        sizes: Iterable[str] = ("ROLLING_30D",),
        default_policy: DriftPolicy | None = None,
    ) -> None:
        self.transactions = transactions
        self.sizes = frozenset(sizes)
        self.default_policy = default_policy or DriftPolicy()
        self.states: dict[str, SystemState] = {}

    async def handle_record(self, topic: str, partition: int, offset: int, value: bytes | None) -> WindowOutcome:
        """Decode and apply one record; bad records become rows in footprint_rejected_windows."""
        try:
            if not value:
                raise WindowError("empty", "record has no value")
            facts = read_window(INTENSITY_WINDOWS.decode(value))
        except (MalformedRecord, WindowError) as exc:
            reason = exc.reason if isinstance(exc, WindowError) else "malformed"
            async with self.transactions() as store:
                await store.reject_record(RejectedRecord(topic, partition, offset, reason, str(exc), value))
            outcome = WindowOutcome.rejected(reason, str(exc))
            WINDOWS.labels(outcome.label).inc()
            return outcome
        return await self.apply(facts)

    async def apply_message(self, msg: intensity_pb2.IntensityWindow) -> WindowOutcome:
        return await self.apply(read_window(msg))

    async def apply(self, facts: WindowFacts) -> WindowOutcome:
        with APPLY_SECONDS.time():
            try:
                outcome = await self._apply(facts)
            except BaseException:
                self.states.clear()  # the in-memory live systems may be ahead of a rolled-back transaction
                raise
        WINDOWS.labels(outcome.label).inc()
        return outcome

    async def _apply(self, facts: WindowFacts) -> WindowOutcome:
        async with self.transactions() as store:
            if await store.window_seen(facts.window_id, facts.revision):
                return DUPLICATE
            system_ids = await store.systems_for_process(facts.process_id)
            for sid in system_ids:  # sorted: no lock-order deadlocks between workers
                await store.lock_system(sid)
            if not await store.mark_window(facts):
                return DUPLICATE
            if facts.size not in self.sizes:
                outcome = IGNORED_SIZE
            elif not system_ids:
                outcome = UNBOUND
            else:
                await store.save_window_totals(facts)  # what live inventories are folded from (audit)
                results = [await self._apply_to(store, await self._sync(store, sid), facts) for sid in system_ids]
                outcome = APPLIED if any(r.kind is OutcomeKind.APPLIED for r in results) else results[0]
            if outcome.kind is not OutcomeKind.APPLIED:
                await store.set_window_outcome(facts, outcome)
            return outcome

    async def _sync(self, store: WindowStore, system_id: str) -> SystemState:
        """The in-memory state of a system, matching the database (under the system's lock)."""
        state = self.states.get(system_id)
        version = await store.current_version(system_id)
        if state is not None and state.version == version:
            bases = await store.live_bases(system_id)
            mine = {p: (i.window_id, i.revision) for p, i in state.inventories.items()}
            if bases == mine:
                return state
        stored = await store.current_system(system_id)
        if stored is None:  # cannot happen: systems_for_process found it under the same lock
            raise LookupError(f"product system {system_id} has no stored version")
        plants = await store.process_plants([b["process_id"] for b in stored.binding.get("processes", {}).values()])
        inventories = await store.live_inventories(system_id)
        state = build_state(system_id, stored.version, stored.document, stored.binding, plants, inventories)
        self.states[system_id] = state
        return state

    async def _apply_to(self, store: WindowStore, state: SystemState, facts: WindowFacts) -> WindowOutcome:
        outcome = UNBOUND
        for pb in state.binding.for_registry_process(facts.process_id):
            if not pb.telemetry:
                continue
            declared = state.system.processes[pb.engine_process_id]
            if not is_newer(state.inventories.get(pb.engine_process_id), facts):
                outcome = STALE
                continue
            try:
                inv = fold(declared, pb, state.binding.registry_product(declared.outputs[0].product), facts)
                state.live.replace_process(live_process(declared, inv))
            except WindowError as exc:
                return WindowOutcome.unusable(exc)
            except ProductSystemError as exc:
                self.states.pop(state.system_id, None)
                return WindowOutcome.engine(exc)
            state.inventories[pb.engine_process_id] = inv
            await store.save_live_inventory(state.system_id, pb.engine_process_id, inv)
            await self._evaluate(store, state, pb.engine_process_id, facts)
            outcome = APPLIED
        return outcome

    async def _evaluate(self, store: WindowStore, state: SystemState, process: str, facts: WindowFacts) -> None:
        products = sorted(p for p in state.live.downstream(process) if p in state.system.products)
        reg = state.binding.registry_product
        pairs = [(reg(p), state.plants.get(state.producer.get(p, ""))) for p in products]
        by_reg = await store.published_series(pairs)
        published = {p: by_reg[reg(p)] for p in products if reg(p) in by_reg}
        if not published:
            return
        book = await store.policy_book(self.default_policy)
        res = state.live.results
        live = {p: gwp_table(res, res.compiled.row_index[p])["A1-A3"]["GWP-total"] for p in products}
        states = await store.drift_states([s.series_id for s in published.values()])
        policy_for = lambda p: book.policy_for(reg(p), published[p].pcr_id if p in published else None)  # noqa: E731
        origins: dict[str, DriftDecision] = {}
        new_states: dict[str, DriftState] = {}
        streaks: dict[str, list[Evidence]] = {}
        for p, s in published.items():
            EVALUATIONS.inc()
            old, streak = states.get(s.series_id, (DriftState(), []))
            new, decision = evaluate(policy_for(p), old, live[p], s.value)
            if streak and not later_period(facts.end, streak[-1]):
                # Windows of other upstream processes for a period this series was already evaluated
                # in: the live value is recorded, but "N consecutive evaluations" means N successive
                # periods, so one distorted period cannot fire the rule by itself.
                await store.save_drift_state(s.series_id, old, live[p], decision.percent, streak)
                new_states[p], streaks[p] = old, streak  # as it stands: a cascade may still reach it
                continue
            streak = [*streak, facts.evidence][-MAX_STREAK:] if new.consecutive > 0 else []
            new_states[p], streaks[p] = new, streak
            await store.save_drift_state(s.series_id, new, live[p], decision.percent, streak)
            if decision.drifted:
                origins[p] = decision
        if not origins:
            return
        # Products that fired and lie downstream of another product that fired are the cascade's
        # to label (cause "cascade", origin the upstream product); the roots are the origins.
        below = set().union(*(closure(state.consumers, p) for p in origins))
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
        # A version's figures come from the canonical solve its snapshot reproduces (snapshot.py).
        canon = canonical_results(state.system, state.inventories)
        totals = await store.window_totals([(i.window_id, i.revision) for i in state.inventories.values()])
        ref = SystemRef(state.system_id, state.version, state.document, state.binding_doc)
        for target in (*result.targets, *extra):
            s = published[target.product_id]
            upstream = upstream_processes(state.system, target.product_id)
            evidence = merged(streaks[target.origin] or [facts.evidence], evidence_of(state.inventories, upstream))
            new_version = NewVersion(
                series_id=s.series_id,
                status=Status.PROVISIONAL,
                results=gwp_table(canon, canon.compiled.row_index[target.product_id]),
                reason=target.reason,
                period_start=min(_iso(e["window_start"]) for e in evidence),
                period_end=max(_iso(e["window_end"]) for e in evidence),
                factor_set_version=state.binding.factor_set_version,
                allocation_basis=s.allocation_basis,
                allocation_price_basis=s.allocation_price_basis,
                gwp_set=state.system.gwp.basis or state.system.gwp.name,
                declared_unit=s.declared_unit,
                trigger_key=f"{target.cause.value}:{target.origin}:{facts.window_id}:{facts.revision}",
                evidence=evidence,
                snapshot=build_snapshot(
                    ref, state.system, state.binding, state.inventories, totals, target.product_id, canon
                ),
            )
            try:
                pf_id = await store.create_version(new_version)
            except AlreadyOpen:
                log.info("series already has an open version", extra={"series_id": str(s.series_id)})
                continue
            VERSIONS.labels(target.cause.value).inc()
            VERSION_FRESHNESS.observe(max(0.0, (datetime.now(UTC) - facts.end).total_seconds()))
            direction = new_states[target.product_id].direction
            if target.cause is Cause.CASCADE:
                sign = target.percent
                direction = Direction.DETERIORATION if sign > 0 else Direction.IMPROVEMENT
                await store.save_drift_state(
                    s.series_id,
                    DriftState(new_states[target.product_id].consecutive, direction, True),
                    live[target.product_id],
                    sign,
                    streaks[target.product_id],
                )
            await store.record_drift_event(
                DriftEvent(
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
                    window_id=facts.window_id,
                    revision=facts.revision,
                    pf_id=pf_id,
                )
            )


def merged(*evidence: list[Evidence]) -> list[Evidence]:
    """Evidence links in order, each (window_id, revision) once: the streak's, then the inventories'."""
    seen: dict[tuple[str, int], Evidence] = {}
    for links in evidence:
        for e in links:
            seen.setdefault((e["window_id"], e["revision"]), e)
    return list(seen.values())


def later_period(window_end: datetime, last: Evidence) -> bool:
    """Whether a window ends after the last evaluated period of a streak (its evidence entry)."""
    return window_end > _iso(last["window_end"])


def _iso(text: Any) -> datetime:
    return datetime.fromisoformat(text)
