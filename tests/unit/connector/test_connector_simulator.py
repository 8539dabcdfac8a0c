"""Simulator: ratios carry sources, runs are deterministic, drift is exact, bad data is flagged
and is exactly what ingest rejects."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from epd.v1 import telemetry_pb2
from epd_connector import signing
from epd_connector.batching import Batcher
from epd_connector.simulator.drift import DriftSpecError, parse_drift, parse_offset
from epd_connector.simulator.generator import SimulationSpec, simulate
from epd_connector.simulator.ratios import RatiosError, load_ratios, parse_ratios

START = datetime(2025, 3, 1, tzinfo=UTC)
CONFIG_DIR = Path(__file__).resolve().parents[3] / "services" / "connector" / "config"


def spec(**kw) -> SimulationSpec:
    base = dict(
        plant_id="baotou-smelter",
        start=START,
        duration=timedelta(hours=4),
        seed=7,
        stages=("roasting", "leaching", "solvent_extraction"),
    )
    base.update(kw)
    return SimulationSpec(**base)


def test_every_ratio_has_a_source_and_the_chain_is_complete():
    ratios = load_ratios()
    assert set(ratios) == {"mine_beneficiation", "roasting", "leaching", "solvent_extraction", "electrolysis", "magnet"}
    for stage in ratios.values():
        assert stage.nominal_kg_per_hour > 0
        for m in stage.meters:
            assert m.source.strip()


def test_same_seed_same_readings_other_seed_differs():
    a = [r.raw.SerializeToString() for r in simulate(spec(), load_ratios())]
    b = [r.raw.SerializeToString() for r in simulate(spec(), load_ratios())]
    c = [r.raw.SerializeToString() for r in simulate(spec(seed=8), load_ratios())]
    assert a == b and a != c
    assert len(a) == 4 * 60 * 16  # steps x meters of the three stages


def test_drift_raises_target_by_percentage_after_offset_only():
    drift = parse_drift("roasting.h2so4=+20%@2h")
    base = list(simulate(spec(), load_ratios()))
    drifted = list(simulate(spec(drifts=(drift,)), load_ratios()))
    for b, d in zip(base, drifted, strict=True):
        assert b.raw.meter_id == d.raw.meter_id and b.raw.observed_at == d.raw.observed_at
        if b.bad or d.bad:
            continue
        after = b.raw.observed_at.ToDatetime(tzinfo=UTC) - START >= timedelta(hours=2)
        if b.raw.meter_id == "roasting.h2so4" and after:
            assert Decimal(d.raw.value) / Decimal(b.raw.value) == pytest.approx(Decimal("1.2"), rel=Decimal("1e-4"))
            assert d.quantity / b.quantity == pytest.approx(Decimal("1.2"), rel=Decimal("1e-12"))
        else:
            assert d.raw.value == b.raw.value


def test_drift_on_a_counter_raises_its_deltas():
    drift = parse_drift("roasting.electricity=-10%@30m")
    run = [
        r
        for r in simulate(spec(noise=0.0, bad_probability=0, reset_probability=0, drifts=(drift,)), load_ratios())
        if r.raw.meter_id == "roasting.electricity"
    ]
    vals = [Decimal(r.raw.value) for r in run]
    deltas = [b - a for a, b in pairwise(vals)]
    before, after = deltas[:28], deltas[31:]
    assert all(d == before[0] for d in before) and all(d == after[0] for d in after)
    assert after[0] / before[0] == pytest.approx(Decimal("0.9"), rel=Decimal("1e-6"))


def test_bad_data_and_resets_are_flagged():
    run = list(simulate(spec(bad_probability=0.05, reset_probability=0.01), load_ratios()))
    kinds = Counter(r.bad for r in run if r.bad)
    assert sum(kinds.values()) > 50 and len(kinds) == 4
    assert any(r.counter_reset for r in run)


def test_simulated_plant_through_ingest_rejects_exactly_the_flagged_readings():
    from epd_intensity.ingest.pipeline import IngestState, process_batch
    from epd_intensity.ingest.registry import InMemoryPlantRegistry

    key = signing.generate_private_key()
    registry = InMemoryPlantRegistry()
    registry.register_plant_mapping(
        yaml.safe_load((CONFIG_DIR / "baotou-smelter.yaml").read_text()), {"baotou-smelter-2025": key.public_key()}
    )
    sim = spec(duration=timedelta(hours=6), bad_probability=0.01, reset_probability=0.002)
    batcher = Batcher("baotou-smelter", max_readings=100)
    now = START + sim.duration
    state, accepted, rejected, flagged = IngestState(), 0, Counter(), 0
    readings = list(simulate(sim, load_ratios()))
    batches = []
    for r in readings:
        flagged += r.bad is not None
        batches += batcher.add(r.raw, now)
    batches += batcher.flush(now)
    for b in batches:
        res = process_batch(signing.sign_batch(b, key, "baotou-smelter-2025").SerializeToString(), registry, state, now)
        accepted += len(res.accepted)
        rejected.update(telemetry_pb2.RejectionReason.Name(x.reason) for x in res.rejected)
    assert flagged > 0
    assert sum(rejected.values()) == flagged, rejected
    assert set(rejected) <= {
        "REJECTION_REASON_NOT_FINITE",
        "REJECTION_REASON_NEGATIVE_VALUE",
        "REJECTION_REASON_UNKNOWN_UNIT",
    }
    assert accepted == len(readings) - flagged


@pytest.mark.parametrize(
    ("text", "meter", "factor", "after"),
    [
        ("roasting.electricity=+20%@2h", "roasting.electricity", "1.2", timedelta(hours=2)),
        ("electrolysis.cf4=-12.5%@1h30m", "electrolysis.cf4", "0.875", timedelta(minutes=90)),
        ("magnet.natural-gas=+0%@0s", "magnet.natural-gas", "1", timedelta(0)),
    ],
)
def test_parse_drift(text, meter, factor, after):
    d = parse_drift(text)
    assert (d.meter_id, d.factor, d.after) == (meter, Decimal(factor), after)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "roasting.electricity",
        "roasting.electricity=20%@2h",
        "roasting.electricity=+20@2h",
        "roasting.electricity=+20%@",
        "x=+20%@2y",
        "x=-100%@1h",
        "x=+20%@2h;rm",
        "x=+1e9%@1h",
    ],
)
def test_bad_drift_specs(text):
    with pytest.raises(DriftSpecError):
        parse_drift(text)


def test_parse_offset_forms():
    assert parse_offset("1d2h3m4s") == timedelta(days=1, hours=2, minutes=3, seconds=4)
    with pytest.raises(DriftSpecError):
        parse_offset("h2")


def test_unknown_stage_or_drift_target_is_refused():
    with pytest.raises(ValueError, match="unknown stage"):
        list(simulate(spec(stages=("smelting",)), load_ratios()))
    with pytest.raises(ValueError, match="unknown meter"):
        list(simulate(spec(drifts=(parse_drift("magnet.electricity=+5%@1h"),)), load_ratios()))


@pytest.mark.parametrize(
    "kw", [{"step": timedelta(0)}, {"duration": timedelta(-1)}, {"noise": 2.0}, {"bad_probability": -0.1}]
)
def test_bad_simulation_spec(kw):
    with pytest.raises(ValueError):
        spec(**kw)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"stages": []},
        {"stages": {"x": {}}},
        {
            "stages": {
                "x": {
                    "output": {
                        "activity": "output.x",
                        "meter_unit": "kg",
                        "kind": "interval",
                        "nominal_kg_per_hour": "1",
                        "source": "s",
                    },
                    "activities": [
                        {
                            "name": "e",
                            "activity_kind": "electricity",
                            "activity": "electricity.grid",
                            "per_kg": "1",
                            "unit": "kg",
                            "meter_unit": "kg",
                            "kind": "interval",
                            "source": "s",
                        }
                    ],
                }
            }
        },
        {
            "stages": {
                "x": {
                    "output": {
                        "activity": "output.x",
                        "meter_unit": "kg",
                        "kind": "interval",
                        "nominal_kg_per_hour": "NaN",
                        "source": "s",
                    }
                }
            }
        },
        {
            "stages": {
                "x": {
                    "output": {
                        "activity": "output.x",
                        "meter_unit": "kg",
                        "kind": "interval",
                        "nominal_kg_per_hour": "1",
                        "source": " ",
                    }
                }
            }
        },
    ],
)
def test_bad_ratios_are_errors(data):
    with pytest.raises(RatiosError):
        parse_ratios(data)
