"""Folding windows into live inventories, and the binding of a system (pure, hand-computed)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import intensity_pb2
from epd_footprint.binding import BindingError, parse_binding
from epd_footprint.engine import LiveSystem, footprint, parse_system
from epd_footprint.windows import WindowError, fold, is_newer, live_process, read_window

SYSTEM = {
    "format": "epd-product-system/1",
    "gwp": {"name": "AR6", "source": "IPCC AR6", "factors": {}},
    "products": [{"id": "calcine", "unit": "kg"}, {"id": "oxide", "unit": "kg"}],
    "background": [
        {"id": "grid", "unit": "kWh", "category": "energy", "emissions": {"CO2": 0.5}, "source": "test"},
        {"id": "acid", "unit": "kg", "category": "ancillary", "emissions": {"CO2e": 0.1}, "source": "test"},
    ],
    "processes": [
        {
            "id": "roast",
            "outputs": [{"product": "calcine", "amount": 1, "unit": "t"}],
            "inputs": [
                {"activity": "grid", "amount": 100, "unit": "kWh"},
                {"activity": "acid", "amount": 200, "unit": "kg"},
            ],
            "emissions": [{"gas": "CO2", "amount": 50, "unit": "kg"}],
        },
        {
            "id": "refine",
            "outputs": [{"product": "oxide", "amount": 1, "unit": "kg"}],
            "inputs": [{"product": "calcine", "amount": 2, "unit": "kg"}],
        },
    ],
}
BINDING = {
    "factor_set_version": "f1",
    "products": {"calcine": "reg-calcine"},
    "processes": {"roast": {"process_id": "plant/roast", "activities": {"electricity.grid": "grid"}}},
}


def _ts(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def window(kwh="30000", out="200000", co2=None, revision=0, day=0, **over) -> intensity_pb2.IntensityWindow:
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=day)
    w = intensity_pb2.IntensityWindow(
        window_id=f"w{day}-{revision}",
        process_id="plant/roast",
        size=intensity_pb2.WINDOW_SIZE_ROLLING_30D,
        revision=revision,
        window_start=_ts(start),
        window_end=_ts(start + timedelta(days=30)),
        activities=[intensity_pb2.ActivityTotal(activity="electricity.grid", quantity=kwh, unit="kWh")],
        outputs=[intensity_pb2.ProductOutput(product_id="reg-calcine", quantity_kg=out)],
        evidence=intensity_pb2.WindowEvidence(merkle_root=hashlib.sha256(b"x").hexdigest()),
    )
    if co2 is not None:
        w.activities.add(activity="gas.co2", quantity=co2, unit="kg")
    for k, v in over.items():
        setattr(w, k, v)
    return w


def test_fold_scales_the_window_to_one_declared_run_and_the_engine_follows():
    system = parse_system(SYSTEM)
    binding = parse_binding(BINDING, system)
    facts = read_window(window(kwh="30000", out="200000", co2="12000"))
    inv = fold(system.processes["roast"], binding.processes["roast"], "reg-calcine", facts)
    # 1 t per run / 200 t in the window: 30000 kWh -> 150 kWh per run; 12 t CO2 -> 60 kg per run.
    assert inv.inputs == {"grid": (Decimal("150"), "kWh")}
    assert inv.emissions == {"CO2": Decimal("60")}
    live = LiveSystem(system)
    live.replace_process(live_process(system.processes["roast"], inv))
    # calcine per kg: (150 x 0.5 + 200 x 0.1 + 60) / 1000 = 0.155; oxide: 2 x 0.155 = 0.31 (hand-computed).
    assert float(footprint(live.results, "calcine", detail=False).gwp["A1-A3"]["GWP-total"]) == pytest.approx(0.155)
    assert float(footprint(live.results, "oxide", detail=False).gwp["A1-A3"]["GWP-total"]) == pytest.approx(0.31)
    # Unreported declared inputs (acid) stay as declared.
    assert any(x.ref == "acid" and x.amount == 200 for x in live_process(system.processes["roast"], inv).inputs)


def test_newer_windows_win_and_stale_ones_do_not():
    system = parse_system(SYSTEM)
    b = parse_binding(BINDING, system).processes["roast"]
    inv = fold(system.processes["roast"], b, "reg-calcine", read_window(window(day=5)))
    assert is_newer(None, read_window(window(day=0)))
    assert not is_newer(inv, read_window(window(day=4, revision=9)))
    assert not is_newer(inv, read_window(window(day=5)))
    assert is_newer(inv, read_window(window(day=5, revision=1)))
    assert is_newer(inv, read_window(window(day=6)))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"kwh": "1e400"}, "invalid_number"),
        ({"kwh": "-5"}, "invalid_number"),
        ({"kwh": "NaN"}, "invalid_number"),
        ({"kwh": "abc"}, "invalid_number"),
        ({"kwh": "9" * 80}, "invalid_number"),
        ({"window_id": "a\x00b"}, "malformed"),
        ({"window_id": ""}, "malformed"),
        ({"process_id": "x" * 300}, "malformed"),
        ({"size": 9}, "unknown_size"),
        ({"revision": 2**32 - 1}, "invalid_number"),
    ],
)
def test_hostile_windows_are_refused_with_a_reason(change, reason):
    kw = {k: v for k, v in change.items() if k in ("kwh", "out", "co2")}
    over = {k: v for k, v in change.items() if k not in kw}
    with pytest.raises(WindowError) as exc:
        read_window(window(**kw, **over))
    assert exc.value.reason == reason


def test_bad_evidence_and_time_order_are_refused():
    w = window()
    w.evidence.merkle_root = "XYZ"
    with pytest.raises(WindowError, match="bad_evidence"):
        read_window(w)
    w = window()
    w.window_end.CopyFrom(w.window_start)
    with pytest.raises(WindowError, match="malformed"):
        read_window(w)


def test_no_output_and_out_of_range_per_run_amounts():
    system = parse_system(SYSTEM)
    b = parse_binding(BINDING, system).processes["roast"]
    with pytest.raises(WindowError) as exc:
        fold(system.processes["roast"], b, "reg-calcine", read_window(window(out="0")))
    assert exc.value.reason == "no_output"
    with pytest.raises(WindowError) as exc:
        fold(system.processes["roast"], b, "reg-calcine", read_window(window(kwh="1e15", out="0.000001")))
    assert exc.value.reason == "invalid_number"


def test_units_that_are_not_mass_are_refused_as_unit_mismatch():
    # The engine's unit errors (ProductSystemError, no longer a ValueError) become the window's reason.
    system = parse_system(SYSTEM)
    b = parse_binding(BINDING, system).processes["roast"]
    w = window()
    w.activities.add(activity="gas.co2", quantity="5", unit="kWh")
    with pytest.raises(WindowError) as exc:
        fold(system.processes["roast"], b, "reg-calcine", read_window(w))
    assert exc.value.reason == "unit_mismatch" and "gas.co2" in exc.value.message
    by_volume = {
        **SYSTEM,
        "processes": [{**SYSTEM["processes"][0], "outputs": [{"product": "calcine", "amount": 1, "unit": "Nm3"}]}],
    }
    system = parse_system(by_volume)
    with pytest.raises(WindowError) as exc:
        fold(system.processes["roast"], b, "reg-calcine", read_window(window()))
    assert exc.value.reason == "unit_mismatch" and "mass units" in exc.value.message


@pytest.mark.parametrize(
    ("binding", "match"),
    [
        ({"products": {}}, "factor_set_version"),
        ({**BINDING, "extra": 1}, "unknown fields"),
        ({**BINDING, "products": {"ghost": "x"}}, "not a product"),
        ({**BINDING, "processes": {"ghost": {"process_id": "a/b"}}}, "not a process"),
        ({**BINDING, "processes": {"roast": {"process_id": "a\x00b"}}}, "expected an id"),
        (
            {**BINDING, "processes": {"roast": {"process_id": "a/b", "activities": {"electricity.grid": "nope"}}}},
            "not a background activity",
        ),
        ({**BINDING, "processes": {"roast": {"process_id": "a/b", "telemetry": "yes"}}}, "true or false"),
        ([], "expected an object"),
    ],
)
def test_bad_bindings_say_where(binding, match):
    with pytest.raises(BindingError, match=match):
        parse_binding(binding, parse_system(SYSTEM))
