"""Hand-computed scenarios through the oracle (the reference the faust app must match)."""

import dataclasses
import random
from datetime import timedelta
from decimal import Decimal

from intensity_builders import at, reading

from epd.v1 import intensity_pb2
from epd_intensity.core import window_id
from epd_intensity.factors import FactorLibrary
from epd_intensity.oracle import compute_windows

D = "2023-05-01T"


def hourly(result, process_id, start=None):
    out = [w for w in result.final if w.size == intensity_pb2.WINDOW_SIZE_HOURLY and w.process_id == process_id]
    if start is not None:
        out = [w for w in out if w.window_start.ToDatetime() == at(start).replace(tzinfo=None)]
    return out


def intensity(window, product):
    return next(i for i in window.intensities if i.product_id == product)


def lines(window):
    return {(e.source, e.gas): (e.mass_kg, e.co2e_kg) for e in window.emissions}


def test_electricity_in_two_grid_regions(processes, library):
    rs = [
        reading("east-1/line", "electricity.grid", "1000", D + "10:15:00"),
        reading("east-1/line", "output.widget", "100", D + "10:45:00"),
        reading("sw-1/line", "electricity.grid", "1000", D + "10:15:00"),
        reading("sw-1/line", "output.widget", "100", D + "10:50:00"),
    ]
    result = compute_windows(rs, processes, library, flush=True)
    east, sw = hourly(result, "east-1/line")[0], hourly(result, "sw-1/line")[0]
    # East China 2023: 1000 kWh x 0.5500 = 550 kg CO2; per 100 kg: 5.5.
    assert east.total_co2e_kg == "550.000000" and intensity(east, "widget").kg_co2e_per_kg == "5.500000000"
    # Southwest 2023: 1000 kWh x 0.2472 = 247.2 kg CO2; per 100 kg: 2.472.
    assert sw.total_co2e_kg == "247.200000" and intensity(sw, "widget").kg_co2e_per_kg == "2.472000000"
    assert (
        east.emissions[0].factor_id == "cn-grid-2023-east"
        and east.emissions[0].source == intensity_pb2.EMISSION_SOURCE_SCOPE2_ELECTRICITY
    )
    assert east.factor_set_version == "2025.1" and east.gwp_set == "AR6"
    assert {w.size for w in result.final} == {1, 2, 3}


def test_pfc_emitting_electrolysis_measured_and_modelled(processes, library):
    p = "bt-1/electrolysis"
    rs = [
        reading(p, "electricity.grid", "10000", "2022-06-01T08:10:00"),
        reading(p, "gas.cf4", "0.5", "2022-06-01T08:20:00"),
        reading(p, "gas.c2f6", "0.05", "2022-06-01T08:30:00"),
        reading(p, "output.nd-metal", "1000", "2022-06-01T08:40:00"),
        reading(p, "output.nd-metal", "1000", "2022-06-01T09:40:00"),
    ]  # no meters: model only
    result = compute_windows(rs, processes, library, flush=True)
    measured = hourly(result, p, "2022-06-01T08:00:00")[0]
    got = lines(measured)
    # Inner Mongolia 2022: 10000 x 0.6849 = 6849; CF4 0.5 x 7380 = 3690; C2F6 0.05 x 12400 = 620;
    # CO2 not metered, so modelled: 1000 kg Nd x 0.283 = 283. Total 11442 -> 11.442 per kg.
    assert got[(intensity_pb2.EMISSION_SOURCE_SCOPE2_ELECTRICITY, "CO2")] == ("6849.000000", "6849.000000")
    assert got[(intensity_pb2.EMISSION_SOURCE_SCOPE1_PFC, "CF4")] == ("0.500000", "3690.000000")
    assert got[(intensity_pb2.EMISSION_SOURCE_SCOPE1_PFC, "C2F6")] == ("0.050000", "620.000000")
    assert got[(intensity_pb2.EMISSION_SOURCE_SCOPE1_PROCESS, "CO2")] == ("283.000000", "283.000000")
    assert measured.total_co2e_kg == "11442.000000"
    assert intensity(measured, "nd-metal").kg_co2e_per_kg == "11.442000000"
    modelled = hourly(result, p, "2022-06-01T09:00:00")[0]
    # CF4 1000 x 2.38e-4 = 0.238 kg x 7380 = 1756.44; C2F6 0.0265 x 12400 = 328.6; CO2 283.
    assert lines(modelled)[(intensity_pb2.EMISSION_SOURCE_SCOPE1_PFC, "CF4")] == ("0.238000", "1756.440000")
    assert lines(modelled)[(intensity_pb2.EMISSION_SOURCE_SCOPE1_PFC, "C2F6")] == ("0.026500", "328.600000")
    assert modelled.total_co2e_kg == "2368.040000"


def _separation(process_id, processes, library):
    rs = [
        reading(process_id, "reagent.hcl", "1000", D + "10:05:00"),
        reading(process_id, "electricity.grid", "1000", D + "10:10:00"),
        reading(process_id, "output.ndpr-oxide", "10", D + "10:20:00"),
        reading(process_id, "output.la-ce-oxide", "90", D + "10:30:00"),
    ]
    return hourly(compute_windows(rs, processes, library, flush=True), process_id)[0]


def test_two_product_separation_mass_allocation(processes, library):
    w = _separation("bt-1/sx-mass", processes, library)
    # HCl 1000 kg x 0.8 (default) = 800; North 2023 1000 kWh x 0.6361 = 636.1; total 1436.1.
    assert w.total_co2e_kg == "1436.100000" and w.allocation_basis == intensity_pb2.ALLOCATION_BASIS_MASS
    # Mass shares 10/100 and 90/100: 143.61 and 1292.49, both 14.361 per kg.
    assert [(o.product_id, o.allocation_share) for o in w.outputs] == [
        ("la-ce-oxide", "0.900000000000"),
        ("ndpr-oxide", "0.100000000000"),
    ]
    assert intensity(w, "ndpr-oxide").allocated_co2e_kg == "143.610000"
    assert intensity(w, "la-ce-oxide").allocated_co2e_kg == "1292.490000"
    assert intensity(w, "ndpr-oxide").kg_co2e_per_kg == intensity(w, "la-ce-oxide").kg_co2e_per_kg == "14.361000000"


def test_two_product_separation_economic_allocation(processes, library):
    w = _separation("bt-1/sx-econ", processes, library)
    assert w.allocation_basis == intensity_pb2.ALLOCATION_BASIS_ECONOMIC
    assert w.allocation_price_basis == "test prices CNY/kg; period 2023-Q2"
    # Weights 10 x 450 = 4500 and 90 x 5 = 450: shares 10/11 and 1/11 (12 places).
    shares = {o.product_id: o.allocation_share for o in w.outputs}
    assert shares == {"ndpr-oxide": "0.909090909091", "la-ce-oxide": "0.090909090909"}
    # 1436.1 x 0.909090909091 = 1305.54545454...6 -> 1305.545455; / 10 kg = 130.5545455.
    assert intensity(w, "ndpr-oxide").allocated_co2e_kg == "1305.545455"
    assert intensity(w, "ndpr-oxide").kg_co2e_per_kg == "130.554545500"
    # 1436.1 x 0.090909090909 = 130.5545454...4 -> 130.554545; / 90 kg = 1.45060605555... -> 1.450606056.
    assert intensity(w, "la-ce-oxide").allocated_co2e_kg == "130.554545"
    assert intensity(w, "la-ce-oxide").kg_co2e_per_kg == "1.450606056"


def test_late_readings_within_and_beyond_lateness(processes, library):
    p = "east-1/line"
    too_late = reading(p, "electricity.grid", "7", D + "10:40:00")
    rs = [
        reading(p, "electricity.grid", "100", D + "10:10:00"),
        reading(p, "electricity.grid", "50", D + "11:05:00"),  # watermark 11:05 closes hour 10 (rev 0)
        reading(p, "electricity.grid", "20", D + "10:30:00"),  # 11:00 + 1 h > 11:05: revision 1
        reading(p, "electricity.grid", "5", D + "12:30:00"),  # watermark 12:30
        too_late,
    ]  # 11:00 + 1 h <= 12:30: correction log
    result = compute_windows(rs, processes, library)
    h10 = [w for w in result.history if w.size == 1 and w.window_start.ToDatetime().hour == 10]
    assert [w.revision for w in h10] == [0, 1]
    assert [w.activities[0].quantity for w in h10] == ["100.000000", "120.000000"]
    start = at(D + "10:00:00")
    assert [w.window_id for w in h10] == [window_id(p, start, 1, 0), window_id(p, start, 1, 1)]
    assert result.corrections == [(too_late, result.corrections[0][1])]
    assert result.corrections[0][1].value == "too_late"
    assert result.outcomes["late_revision"] == 1 and result.outcomes["accepted"] == 3
    assert hourly(result, p, D + "10:00:00")[0].revision == 1  # final = latest revision


def test_readings_hours_out_of_order(processes, library):
    p = "east-1/line"
    hours = [13, 10, 12, 11]
    rs = [reading(p, "electricity.grid", "10", f"{D}{h}:20:00") for h in hours]
    wide = compute_windows(rs, processes, library, lateness=timedelta(hours=6), flush=True)
    assert sorted(w.window_start.ToDatetime().hour for w in hourly(wide, p)) == [10, 11, 12, 13]
    assert wide.outcomes["late_revision"] == 3 and not wide.corrections
    narrow = compute_windows(rs, processes, library, lateness=timedelta(hours=1), flush=True)
    # Watermark 13:20: hour 10 (11:00 + 1 h) and hour 11 (12:00 + 1 h) are too late, hour 12 is late.
    assert sorted(w.window_start.ToDatetime().hour for w in hourly(narrow, p)) == [12, 13]
    assert narrow.outcomes == {"accepted": 1, "late_revision": 1, "too_late": 2}


def test_zero_output_gives_undefined_intensity(processes, library):
    result = compute_windows(
        [reading("east-1/line", "electricity.grid", "1000", D + "10:15:00")], processes, library, flush=True
    )
    w = hourly(result, "east-1/line")[0]
    i = intensity(w, "widget")
    assert (i.defined, i.kg_co2e_per_kg, w.total_co2e_kg) == (False, "", "550.000000")
    assert w.outputs[0].quantity_kg == "0.000000" and w.outputs[0].allocation_share == "0.000000000000"


def test_unknown_activity_and_duplicates_are_counted_not_crashing(processes, library):
    good = reading("east-1/line", "electricity.grid", "1000", D + "10:15:00")
    rs = [good, good, reading("east-1/line", "electricity.nuclear-magic", "5", D + "10:16:00")]
    result = compute_windows(rs, processes, library, flush=True)
    assert result.outcomes["unknown_activity"] == 1 and result.outcomes["duplicate"] == 1
    w = hourly(result, "east-1/line")[0]
    assert w.evidence.reading_count == 1 and w.total_co2e_kg == "550.000000"


def test_missing_factor_gives_defined_window(processes, library):
    result = compute_windows(
        [reading("east-1/line", "electricity.grid", "1000", "2016-05-01T10:15:00")], processes, library, flush=True
    )
    w = hourly(result, "east-1/line")[0]
    assert result.outcomes["factor_missing"] == 1 and result.missing[0].activity == "electricity.grid"
    assert w.activities[0].quantity == "1000.000000" and not w.emissions and w.total_co2e_kg == "0.000000"


def _days(seed=7):
    rng = random.Random(seed)
    rs = []
    for day in (1, 2, 3):
        for hour in rng.sample(range(24), 5):
            for minute in (5, 35):
                when = f"2023-05-0{day}T{hour:02d}:{minute:02d}:00"
                rs.append(
                    reading(
                        "bt-1/sx-mass", "electricity.grid", f"{rng.randint(1, 9999)}.{rng.randint(0, 999):03d}", when
                    )
                )
                rs.append(reading("bt-1/sx-mass", "output.ndpr-oxide", str(rng.randint(0, 50)), when))
    return sorted(rs, key=lambda r: r.observed_at.ToDatetime())


def test_rolling_30_days_equals_sum_of_hourly_windows(processes, library):
    result = compute_windows(_days(), processes, library, flush=True)
    hours = hourly(result, "bt-1/sx-mass")
    rolling = [w for w in result.final if w.size == intensity_pb2.WINDOW_SIZE_ROLLING_30D]
    last = max(rolling, key=lambda w: w.window_end.ToDatetime())
    assert last.window_end.ToDatetime() == at("2023-05-04T00:00:00").replace(tzinfo=None)
    assert Decimal(last.total_co2e_kg) == sum(Decimal(w.total_co2e_kg) for w in hours)
    assert Decimal(last.outputs[1].quantity_kg) == sum(Decimal(w.outputs[1].quantity_kg) for w in hours)
    assert last.evidence.reading_count == sum(w.evidence.reading_count for w in hours) == 60
    daily = [w for w in result.final if w.size == intensity_pb2.WINDOW_SIZE_DAILY]
    assert len(daily) == 3 and sum(Decimal(w.total_co2e_kg) for w in daily) == Decimal(last.total_co2e_kg)


def _content(window):
    copy = type(window)()
    copy.CopyFrom(window)
    copy.ClearField("computed_at")  # event time of arrival; the only field that may follow arrival order
    return copy.SerializeToString(deterministic=True)


def test_replay_gives_identical_ids_and_merkle_roots(processes, library):
    """Same arrival order: byte-identical history. Any order: same roots and totals per window."""
    rs = _days()
    first = compute_windows(rs, processes, library, flush=True)
    again = compute_windows(rs, processes, library, flush=True)
    assert [w.SerializeToString(deterministic=True) for w in first.history] == [
        w.SerializeToString(deterministic=True) for w in again.history
    ]
    shuffled = list(rs)
    random.Random(1).shuffle(shuffled)
    reordered = compute_windows(shuffled, processes, library, lateness=timedelta(days=3), flush=True)
    assert {
        w.process_id + str(w.window_start.seconds) + str(w.size): (w.evidence.merkle_root, w.total_co2e_kg)
        for w in reordered.final
    } == {
        w.process_id + str(w.window_start.seconds) + str(w.size): (w.evidence.merkle_root, w.total_co2e_kg)
        for w in first.final
    }
    # Arrival order may add revisions (late readings), but never changes what a window holds.
    assert len(reordered.final) == len(first.final) == len({w.window_id for w in first.final})


def test_new_factor_set_version_leaves_earlier_windows_unchanged(processes, library):
    base = library.sets[0]
    raised = tuple(
        dataclasses.replace(f, gases={"CO2": Decimal("0.9")}) if f.id == "cn-grid-2023-east" else f
        for f in base.factors
    )
    newer = dataclasses.replace(base, version="2026.1", windows_from=at("2023-05-02T00:00:00"), factors=raised)
    rs = [
        reading("east-1/line", "electricity.grid", "1000", D + "10:15:00"),
        reading("east-1/line", "electricity.grid", "1000", "2023-05-02T10:15:00"),
    ]
    old = compute_windows(rs[:1], processes, library, flush=True)
    both = compute_windows(rs, processes, FactorLibrary((base, newer)), flush=True)
    day1 = hourly(both, "east-1/line", D + "10:00:00")[0]
    assert _content(day1) == _content(hourly(old, "east-1/line")[0])
    day2 = hourly(both, "east-1/line", "2023-05-02T10:00:00")[0]
    assert (day2.factor_set_version, day2.total_co2e_kg) == ("2026.1", "900.000000")


def test_derived_windows_can_be_rebuilt_from_hourly_messages_alone(processes, library):
    from epd_intensity.core import combine, totals_from_window
    from epd_intensity.core.window import build_window

    result = compute_windows(_days(), processes, library, flush=True)
    hours = hourly(result, "bt-1/sx-mass")
    rolling = max(
        (w for w in result.final if w.size == intensity_pb2.WINDOW_SIZE_ROLLING_30D), key=lambda w: w.window_end.seconds
    )
    rebuilt = build_window(
        combine(totals_from_window(w) for w in hours),
        processes["bt-1/sx-mass"],
        intensity_pb2.WINDOW_SIZE_ROLLING_30D,
        rolling.window_start.ToDatetime().replace(tzinfo=at(D + "00:00:00").tzinfo),
        rolling.revision,
        rolling.computed_at.ToDatetime().replace(tzinfo=at(D + "00:00:00").tzinfo),
    )
    assert rebuilt.SerializeToString(deterministic=True) == rolling.SerializeToString(deterministic=True)
