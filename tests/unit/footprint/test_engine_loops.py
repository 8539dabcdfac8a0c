"""Cyclic systems solved as a linear system, live overrides and change sets."""

from pathlib import Path

import numpy as np
import pytest

from epd_footprint.engine import (
    LiveSystem,
    ProductSystemError,
    Reason,
    compile_system,
    compute,
    load_file,
    parse_process,
    parse_system,
    solve_system,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "footprint" / "examples"
BG = [{"id": "el", "unit": "kWh", "category": "energy", "emissions": {"CO2": 0.5}, "default": True}]
GWP = {"name": "AR6", "source": "IPCC AR6 WG1 Ch7 Table 7.SM.7", "factors": {"CF4": 7380}}


def loop_system(returned: float):
    """metal needs oxide; making metal returns `returned` kg scrap per kg, which oxide takes back."""
    return {
        "format": "epd-product-system/1",
        "gwp": GWP,
        "background": BG,
        "products": [{"id": x, "unit": "kg"} for x in ("oxide", "metal", "scrap")],
        "processes": [
            {
                "id": "sx",
                "outputs": [{"product": "oxide", "amount": 1, "unit": "kg"}],
                "inputs": [
                    {"product": "scrap", "amount": 0.5, "unit": "kg"},
                    {"activity": "el", "amount": 2, "unit": "kWh"},
                ],
            },
            {
                "id": "smelt",
                "outputs": [
                    {"product": "metal", "amount": 1, "unit": "kg"},
                    {"product": "scrap", "amount": returned, "unit": "kg"},
                ],
                "allocation": {"method": "explicit", "factors": {"metal": 0.8, "scrap": 0.2}},
                "inputs": [
                    {"product": "oxide", "amount": 1.2, "unit": "kg"},
                    {"activity": "el", "amount": 10, "unit": "kWh"},
                ],
            },
        ],
    }


def dense_reference(cs):
    """Dense numpy solve of the same matrices: unit GWP (fossil+biogenic+luluc) per row."""
    A, B = cs.A.toarray(), cs.B.toarray()
    return (cs.C @ B @ np.linalg.inv(A)).sum(axis=0)


@pytest.mark.parametrize(
    "make", [lambda: parse_system(loop_system(0.3)), lambda: load_file(EXAMPLES / "baotou-ndfeb.yaml")]
)
def test_recycling_loop_matches_dense_solve(make):
    cs = compile_system(make())
    res = solve_system(cs)
    np.testing.assert_allclose(res.impacts.sum(axis=1), dense_reference(cs), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.d, np.diag(np.linalg.inv(cs.A.toarray())), rtol=1e-9)


def test_loop_footprint_solves_the_fixed_point():
    fps = {f.product: float(f.gwp["A1-A3"]["GWP-total"]) for f in compute(parse_system(loop_system(0.3)))}
    # Fixed point by hand: o = 1 + 0.5 s ; per smelt run: 0.8(1.2 o + 5) -> metal, 0.2(1.2 o + 5) -> 0.3 kg scrap.
    s = 0.2 * (1.2 * fps["oxide"] + 5) / 0.3
    assert fps["oxide"] == pytest.approx(1 + 0.5 * s, rel=1e-12)
    assert fps["metal"] == pytest.approx(0.8 * (1.2 * fps["oxide"] + 5), rel=1e-12)


def test_loop_that_returns_too_much_is_rejected():
    data = loop_system(0.3)
    data["processes"][0]["inputs"][0]["amount"] = 10  # oxide needs 10 kg scrap: loop gain > 1
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(data))
    assert err.value.reason in (Reason.NEGATIVE_NET_OUTPUT, Reason.SINGULAR_SYSTEM)


def test_singular_loop_gives_clear_error():
    data = loop_system(1.0)
    data["processes"][1]["allocation"]["factors"] = {"metal": 0.0, "scrap": 1.0}
    data["processes"][1]["inputs"][0]["amount"] = 2  # 1 kg scrap <- 2 kg oxide <- 1 kg scrap: singular
    with pytest.raises(ProductSystemError) as err:
        compute(parse_system(data))
    assert err.value.reason is Reason.SINGULAR_SYSTEM and "singular" in str(err.value)


def _electrolysis(live, kwh, oxide=1.17):
    old = live.compiled.system.processes["baotou-3/molten-salt-electrolysis"]
    return parse_process(
        {
            "id": old.id,
            "outputs": [{"product": "ndpr-metal", "amount": 1, "unit": "kg"}],
            "inputs": [
                {"product": "ndpr-oxide", "amount": oxide, "unit": "kg"},
                {"activity": "grid-inner-mongolia-2022", "amount": kwh, "unit": "kWh"},
            ],
            "emissions": [{"gas": "CF4", "amount": 2.38e-4, "unit": "kg"}],
        },
        "override",
    )


@pytest.mark.parametrize("oxide", [1.17, 1.25])
def test_live_override_matches_fresh_solve(oxide):
    live = LiveSystem(load_file(EXAMPLES / "baotou-ndfeb.yaml"))
    new = _electrolysis(live, 11, oxide)
    change = live.replace_process(new)
    assert change.refactorised is (oxide != 1.17)
    fresh = solve_system(compile_system(live.compiled.system))
    np.testing.assert_allclose(live.results.impacts, fresh.impacts, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(live.results.a3, fresh.a3, rtol=1e-10, atol=1e-14)
    # Metal changes, and everything that metal feeds, including swarf and (through the loop) oxides.
    downstream = live.downstream("baotou-3/molten-salt-electrolysis")
    assert {"ndpr-metal", "ndfeb-magnet", "magnet-swarf"} <= change.changed <= downstream
    assert "reo-concentrate" not in change.changed and "reo-concentrate" not in downstream


def test_override_with_same_inventory_changes_nothing():
    live = LiveSystem(load_file(EXAMPLES / "baotou-ndfeb.yaml"))
    same = live.compiled.system.processes["baotou-1/leaching"]
    assert live.replace_process(same).changed == frozenset()


def test_bad_override_leaves_system_untouched():
    live = LiveSystem(load_file(EXAMPLES / "baotou-ndfeb.yaml"))
    before = live.results.impacts.copy()
    bad = parse_process(
        {
            "id": "baotou-1/leaching",
            "outputs": [{"product": "re-chloride", "amount": 1, "unit": "kg"}],
            "inputs": [{"activity": "nope", "amount": 1, "unit": "kg"}],
        },
        "override",
    )
    with pytest.raises(ProductSystemError) as err:
        live.replace_process(bad)
    assert err.value.reason is Reason.MISSING_FACTOR
    with pytest.raises(ProductSystemError) as err:
        live.replace_process(
            parse_process({"id": "ghost", "outputs": [{"product": "x", "amount": 1, "unit": "kg"}]}, "o")
        )
    assert err.value.reason is Reason.UNKNOWN_REFERENCE
    wrong_outputs = parse_process(
        {"id": "baotou-1/leaching", "outputs": [{"product": "ndpr-oxide", "amount": 1, "unit": "kg"}]}, "o"
    )
    with pytest.raises(ProductSystemError):
        live.replace_process(wrong_outputs)
    np.testing.assert_array_equal(live.results.impacts, before)
