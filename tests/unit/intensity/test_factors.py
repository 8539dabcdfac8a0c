from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest

from epd_intensity.factors import (
    FactorDataError,
    FactorMissing,
    load_factor_set,
    load_library,
    region_chain,
    select_factor,
)
from epd_intensity.factors.loader import DATA_DIR


def _grid(library, province, region, year):
    fs = library.sets[0]
    return select_factor(fs, "electricity.grid", "scope2_electricity", region_chain(province, region), year)


def test_checked_grid_values_are_loaded_exactly(library):
    fs = library.sets[0]
    by_id = {f.id: f for f in fs.factors}
    assert by_id["cn-grid-2021-national"].gases == {"CO2": Decimal("0.5568")}
    assert by_id["cn-grid-2022-national"].gases["CO2"] == Decimal("0.5366")
    assert by_id["cn-grid-2023-national"].gases["CO2"] == Decimal("0.5306")
    assert by_id["cn-grid-2022-inner-mongolia"].gases["CO2"] == Decimal("0.6849")
    assert by_id["cn-grid-2023-southwest"].gases["CO2"] == Decimal("0.2472")
    # The carbon-market series is a different one and must never appear.
    assert all(v != Decimal("0.5703") for f in fs.factors for v in f.gases.values())


def test_gwp_and_combustion_values(library):
    fs = library.sets[0]
    ar6, ar5, ar4 = fs.gwp("AR6"), fs.gwp("AR5"), fs.gwp("AR4")
    assert (ar6.get("CF4"), ar6.get("C2F6"), ar6.get("SF6")) == (Decimal(7380), Decimal(12400), Decimal(25200))
    assert (ar5.get("CF4"), ar4.get("CF4"), ar4.get("C2F6"), ar4.get("SF6")) == (6630, 7390, 12200, 22800)
    assert "C2F6" in ar5.unchecked
    diesel = select_factor(fs, "fuel.diesel", "scope1_combustion", region_chain(None, "north"), 2023)
    assert diesel.factor.gases["CO2"] == Decimal("74.1") and diesel.fallback == "region:GLOBAL"


def test_every_uncited_factor_is_a_default_with_note(library):
    for f in library.sets[0].factors:
        assert f.citation or (f.default and f.note), f.id
    reagents = [f for f in library.sets[0].factors if f.activity.startswith("reagent.")]
    assert reagents and all(f.default for f in reagents)


def test_province_override_then_grid_region_then_year_fallback(library):
    exact = _grid(library, "inner-mongolia", "north", 2022)
    assert exact.factor.id == "cn-grid-2022-inner-mongolia" and exact.fallback == ""
    no_province_2023 = _grid(library, "inner-mongolia", "north", 2023)
    assert no_province_2023.factor.id == "cn-grid-2023-north" and no_province_2023.fallback == "region:north"
    later = _grid(library, "inner-mongolia", "north", 2024)
    assert later.factor.id == "cn-grid-2023-north" and later.fallback == "region:north,year:2023"
    national = _grid(library, None, "tibet", 2021)
    assert national.factor.id == "cn-grid-2021-national" and national.fallback == "region:CN"


def test_missing_factor_is_a_value_not_an_exception(library):
    before = _grid(library, None, "east", 2019)
    assert isinstance(before, FactorMissing) and before.year == 2019
    too_far = _grid(library, None, "east", 2030)  # beyond year_fallback_max = 3
    assert isinstance(too_far, FactorMissing)
    unknown = select_factor(library.sets[0], "reagent.unobtainium", "upstream_reagent", ("CN",), 2023)
    assert isinstance(unknown, FactorMissing)


def test_set_for_window_is_pinned_by_window_start(library):
    from datetime import datetime

    assert library.for_window(datetime(2023, 5, 1, tzinfo=UTC)).version == "2025.1"
    assert library.for_window(datetime(2010, 1, 1, tzinfo=UTC)) is None


def _write_set(tmp_path: Path, factor_yaml: str) -> Path:
    (tmp_path / "gwp.yaml").write_text((DATA_DIR / "gwp.yaml").read_text())
    (tmp_path / "f.yaml").write_text(factor_yaml)
    manifest = tmp_path / "set-x.yaml"
    manifest.write_text(
        "version: x\nwindows_from: 2020-01-01\ndefault_gwp_set: AR6\nyear_fallback_max: 1\n"
        "gwp_file: gwp.yaml\nincludes: [f.yaml]\n"
    )
    return manifest


GOOD = (
    "factors:\n  - {id: a, activity: reagent.x, source: upstream_reagent, unit: kg/kg, region: CN, "
    "years: [2020, null], co2e: 1.5, citation: test}\n"
)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (GOOD.replace("co2e: 1.5", "co2e: .nan"), "finite"),
        (GOOD.replace("co2e: 1.5", "co2e: -1.5"), "non-negative"),
        (GOOD.replace("citation: test", "citation: ''"), "citation"),
        (GOOD.replace("unit: kg/kg", "unit: kg/kWh"), "unit"),
        (GOOD.replace("upstream_reagent", "scope9"), "unknown source"),
        (GOOD.replace("co2e: 1.5", "co2e: 1.5, gases: {CO2: 1}"), "either"),
        (GOOD.replace("[2020, null]", "[1800, null]"), "out of range"),
        (GOOD + GOOD.replace("factors:\n", ""), "duplicate"),
        ("factors: 7\n", "factors"),
        ("{{{{", "cannot read"),
        (GOOD.replace("id: a,", "id: a, extra: 1,"), "extra"),
    ],
)
def test_malformed_factor_data_is_refused_with_reason(tmp_path, bad, reason):
    manifest = _write_set(tmp_path, bad)
    with pytest.raises(FactorDataError, match=reason):
        load_factor_set(manifest)


def test_include_cannot_escape_the_data_folder(tmp_path):
    manifest = _write_set(tmp_path, GOOD)
    manifest.write_text(manifest.read_text().replace("[f.yaml]", "[../../etc/passwd.yaml]"))
    with pytest.raises(FactorDataError, match="plain file name"):
        load_factor_set(manifest)


def test_good_minimal_set_and_empty_library(tmp_path):
    assert load_factor_set(_write_set(tmp_path, GOOD)).factors[0].co2e == Decimal("1.5")
    with pytest.raises(FactorDataError, match="no set"):
        load_library(tmp_path / "nothing")
