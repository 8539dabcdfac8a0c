"""The window use case (service.py) on the in-memory store: drift after N periods, duplicates,
rejected records, and the outcome texts that metrics and the database keep."""

from __future__ import annotations

import copy
import uuid

import pytest
from memory_store import MemoryDatabase
from prometheus_client import REGISTRY
from test_footprint_windows import BINDING, SYSTEM, window

from epd_common.topics import INTENSITY_WINDOWS
from epd_footprint.engine import compute, parse_system
from epd_footprint.engine.errors import ProductSystemError, Reason
from epd_footprint.outcomes import OutcomeKind, WindowOutcome
from epd_footprint.service import FootprintService
from epd_footprint.store import PublishedSeries, StoredSystem
from epd_footprint.windows import WindowError

# Roasting with 150 kWh per tonne instead of the declared 100: calcine and oxide +20.8 %.
DRIFTING = {"kwh": "30000", "out": "200000"}
SERIES = {"reg-calcine": uuid.UUID(int=1), "reg-oxide": uuid.UUID(int=2)}


@pytest.fixture
def db() -> MemoryDatabase:
    db = MemoryDatabase()
    binding = {**BINDING, "products": {"calcine": "reg-calcine", "oxide": "reg-oxide"}}
    db.tables.systems["chain"] = [StoredSystem("chain", 1, SYSTEM, binding, "f1")]
    db.tables.plants["plant/roast"] = "plant"
    declared = {fp.product: fp.gwp["A1-A3"]["GWP-total"] for fp in compute(parse_system(SYSTEM), detail=False)}
    for engine_product, product in (("calcine", "reg-calcine"), ("oxide", "reg-oxide")):
        db.tables.series.append(
            PublishedSeries(
                SERIES[product],
                product,
                "plant",
                "pcr",
                uuid.uuid4(),
                declared[engine_product],
                "none",
                None,
                "AR6",
                "kg",
            )
        )
    return db


def windows_total(label: str) -> float:
    return REGISTRY.get_sample_value("epd_footprint_windows_total", {"outcome": label}) or 0.0


async def test_drift_fires_after_n_consecutive_periods_and_cascades_downstream(db):
    service = FootprintService(db.transactions)  # default policy: beyond 10 % for 3 evaluations
    for day in range(2):
        outcome = await service.apply_message(window(**DRIFTING, day=day))
        assert outcome.kind is OutcomeKind.APPLIED
    assert not db.tables.versions  # two periods are not enough
    assert db.tables.drift[SERIES["reg-calcine"]][0].consecutive == 2

    assert (await service.apply_message(window(**DRIFTING, day=2))).kind is OutcomeKind.APPLIED
    by_series = {v.series_id: v for v in db.tables.versions.values()}
    assert set(by_series) == {SERIES["reg-calcine"], SERIES["reg-oxide"]}
    calcine, oxide = by_series[SERIES["reg-calcine"]], by_series[SERIES["reg-oxide"]]
    assert calcine.status == "provisional" and calcine.reason.startswith("drift: A1-A3 GWP-total +20.8%")
    assert [e["window_id"] for e in calcine.evidence] == ["w0-0", "w1-0", "w2-0"]
    assert oxide.reason.startswith("cascade from calcine")
    assert {(e.product_id, e.cause) for e in db.tables.events} == {("reg-calcine", "drift"), ("reg-oxide", "cascade")}

    # The excursion is flagged: a fourth period beyond the threshold creates nothing new.
    await service.apply_message(window(**DRIFTING, day=3))
    assert len(db.tables.versions) == 2 and len(db.tables.events) == 2


async def test_a_window_from_an_earlier_period_does_not_count_as_a_consecutive_evaluation(db):
    service = FootprintService(db.transactions)
    for day in (5, 6):
        await service.apply_message(window(**DRIFTING, day=day))
    assert (await service.apply_message(window(**DRIFTING, day=4))).kind is OutcomeKind.STALE
    assert not db.tables.versions
    assert db.tables.windows[("w4-0", 0)] == ("stale", "stale")


async def test_a_duplicate_window_is_a_no_op(db):
    service = FootprintService(db.transactions)
    first = await service.apply_message(window(**DRIFTING))
    assert first.kind is OutcomeKind.APPLIED
    before = copy.deepcopy(db.tables)
    duplicates = windows_total("duplicate")
    assert (await service.apply_message(window(**DRIFTING))).kind is OutcomeKind.DUPLICATE
    assert db.tables == before
    assert windows_total("duplicate") == duplicates + 1
    # A revision of the same window is new data, not a duplicate.
    assert (await service.apply_message(window(**DRIFTING, revision=1))).kind is OutcomeKind.APPLIED


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xff\xff\xff", "malformed"),  # not a protobuf message
        (b"", "empty"),
        (INTENSITY_WINDOWS.encode(window(window_id="")), "malformed"),  # decodes; fails validation
        (INTENSITY_WINDOWS.encode(window(size=9)), "unknown_size"),
    ],
)
async def test_a_bad_record_is_rejected_with_its_reason(db, value, reason):
    service = FootprintService(db.transactions)
    rejected = windows_total(f"rejected_{reason}")
    outcome = await service.handle_record("epd.intensity.windows.v1", 2, 41, value)
    assert outcome.kind is OutcomeKind.REJECTED and outcome.reason == reason
    assert outcome.label == f"rejected_{reason}"
    [row] = db.tables.rejected
    assert (row.topic, row.partition, row.offset, row.reason) == ("epd.intensity.windows.v1", 2, 41, reason)
    assert row.payload == value and row.detail == outcome.detail
    assert not db.tables.windows  # nothing was applied
    assert windows_total(f"rejected_{reason}") == rejected + 1


async def test_a_window_without_output_is_recorded_with_its_reason(db):
    service = FootprintService(db.transactions)
    outcome = await service.apply_message(window(out="0"))
    assert outcome.kind is OutcomeKind.UNUSABLE and outcome.label == "no_output"
    assert db.tables.windows[("w0-0", 0)] == (
        "no_output",
        "no_output:window has no output of 'reg-calcine': intensity undefined",
    )
    assert not db.tables.live  # the live inventory is unchanged


async def test_unbound_and_ignored_windows(db):
    service = FootprintService(db.transactions)
    assert (await service.apply_message(window(process_id="plant/other"))).kind is OutcomeKind.UNBOUND
    daily = window(window_id="d0")
    daily.size = 2  # WINDOW_SIZE_DAILY: not a size the service is configured for
    assert (await service.apply_message(daily)).kind is OutcomeKind.IGNORED_SIZE
    assert db.tables.windows[("w0-0", 0)] == ("unbound", "unbound")
    assert db.tables.windows[("d0", 0)] == ("ignored_size", "ignored_size")


def test_outcome_texts_are_the_metric_labels_and_stored_texts_of_before():
    engine = WindowOutcome.engine(ProductSystemError(Reason.SINGULAR_SYSTEM, "technosphere matrix is singular"))
    assert engine.label == engine.stored == "engine_singular_system"
    assert engine.stored_detail == "engine_singular_system:[singular_system] technosphere matrix is singular"
    unusable = WindowOutcome.unusable(WindowError("unit_mismatch", "gas.co2: direct emissions must be in mass units"))
    assert unusable.label == "unit_mismatch"
    assert unusable.stored_detail == "unit_mismatch:gas.co2: direct emissions must be in mass units"
    assert WindowOutcome.rejected("bad_evidence", "x").label == "rejected_bad_evidence"
    for kind in ("applied", "duplicate", "ignored_size", "unbound", "stale"):
        outcome = WindowOutcome(OutcomeKind(kind))
        assert outcome.label == outcome.stored == outcome.stored_detail == kind
