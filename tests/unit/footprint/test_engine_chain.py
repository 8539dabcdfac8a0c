"""Value-chain engine: hand-computed chains, unit conversion, allocation keys, supply mixes."""

from decimal import Decimal

import pytest

from epd_footprint.engine import compute, parse_system

GWP = {"name": "AR6", "source": "IPCC AR6 WG1 Ch7 Table 7.SM.7", "factors": {"CF4": 7380, "CH4": 27.9}}


def system(processes, products, background=None):
    return parse_system(
        {
            "format": "epd-product-system/1",
            "gwp": GWP,
            "products": [{"id": p, "unit": "kg"} if isinstance(p, str) else p for p in products],
            "background": background
            if background is not None
            else [
                {"id": "el", "unit": "kWh", "category": "energy", "emissions": {"CO2": 0.5}, "default": True},
                {"id": "truck", "unit": "tkm", "category": "transport", "emissions": {"CO2e": 0.1}, "default": True},
                {"id": "ore-bg", "unit": "kg", "category": "material", "emissions": {"CO2e": 2}, "default": True},
                {
                    "id": "wood",
                    "unit": "kg",
                    "category": "ancillary",
                    "emissions": {"CO2/biogenic": -1.5, "CO2/luluc": 0.2},
                    "source": "test",
                },
            ],
            "processes": processes,
        }
    )


def proc(pid, outputs, inputs=(), emissions=(), allocation=None):
    d = {
        "id": pid,
        "outputs": [{"product": p, "amount": a, "unit": u} for p, a, u in outputs],
        "inputs": [
            ({"product": r[1:]} if r.startswith("@") else {"activity": r}) | {"amount": a, "unit": u}
            for r, a, u in inputs
        ],
        "emissions": [{"gas": g, "amount": a, "unit": u} for g, a, u in emissions],
    }
    if allocation:
        d["allocation"] = allocation
    return d


THREE_LEVEL = [
    proc("mine", [("ore", 1, "kg")], [("el", 2, "kWh")]),
    proc("refine", [("oxide", 1, "kg")], [("@ore", 3, "kg"), ("el", 4, "kWh"), ("truck", 1, "tkm")]),
    proc(
        "smelt",
        [("metal", 1, "kg")],
        [("@oxide", 2, "kg"), ("el", 10, "kWh"), ("truck", 0.5, "tkm")],
        [("CF4", 0.001, "kg")],
    ),
]


def gwp(fp, module, indicator="GWP-total"):
    return float(fp.gwp[module][indicator])


def test_three_level_chain_matches_hand_calculation():
    fps = {f.product: f for f in compute(system(THREE_LEVEL, ["ore", "oxide", "metal"]))}
    # ore: 2 kWh x 0.5 = 1.0 (A3). oxide: 3 x 1.0 (A1) + 4 x 0.5 (A3) + 1 tkm x 0.1 (A2).
    assert gwp(fps["ore"], "A1-A3") == pytest.approx(1.0, abs=1e-12)
    assert gwp(fps["oxide"], "A1") == pytest.approx(3.0) and gwp(fps["oxide"], "A2") == pytest.approx(0.1)
    assert gwp(fps["oxide"], "A3") == pytest.approx(2.0)
    metal = fps["metal"]
    # metal: A1 = 2 x 5.1; A2 = 0.5 x 0.1; A3 = 10 x 0.5 + 0.001 x 7380 (CF4, AR6).
    assert gwp(metal, "A1") == pytest.approx(10.2) and gwp(metal, "A2") == pytest.approx(0.05)
    assert gwp(metal, "A3") == pytest.approx(12.38) and gwp(metal, "A1-A3") == pytest.approx(22.63)
    assert float(metal.scaling["mine"]) == pytest.approx(6.0) and float(metal.scaling["refine"]) == pytest.approx(2.0)
    assert float(metal.background["el"][0]) == pytest.approx(6 * 2 + 2 * 4 + 10) and metal.background["el"][1] == "kWh"
    assert float(metal.background["truck"][0]) == pytest.approx(2.5)
    assert float(metal.emissions["CF4"]) == pytest.approx(0.001) and float(metal.emissions["CO2"]) == pytest.approx(
        15.0
    )
    assert metal.default_factors and "el" in metal.default_factors
    assert isinstance(metal.gwp["A1-A3"]["GWP-total"], Decimal)


def test_units_are_converted_with_pint():
    scaled = [
        proc("mine", [("ore", 1, "t")], [("el", 2, "MWh")]),
        proc("refine", [("oxide", 1000, "g")], [("@ore", 0.003, "t"), ("el", 14.4, "MJ")]),  # 14.4 MJ = 4 kWh
    ]
    fps = {f.product: f for f in compute(system(scaled, ["ore", "oxide"]))}
    assert gwp(fps["ore"], "A1-A3") == pytest.approx(1.0)  # 2 MWh/t = 2 kWh/kg
    assert gwp(fps["oxide"], "A1-A3") == pytest.approx(3.0 + 2.0)


def test_declared_unit_scales_results():
    products = ["ore", {"id": "oxide", "unit": "kg", "declared_unit": {"amount": 1, "unit": "t"}}]
    fp = compute(system(THREE_LEVEL[:2], products), ["oxide"])[0]
    assert gwp(fp, "A1-A3") == pytest.approx(5100.0)


def test_indicators_split_by_origin():
    s = system([proc("craft", [("box", 1, "kg")], [("wood", 1, "kg"), ("ore-bg", 1, "kg")])], ["box"])
    fp = compute(s)[0]
    assert gwp(fp, "A1-A3", "GWP-biogenic") == pytest.approx(-1.5) and gwp(fp, "A1-A3", "GWP-luluc") == pytest.approx(
        0.2
    )
    assert gwp(fp, "A1-A3", "GWP-fossil") == pytest.approx(2.0) and gwp(fp, "A1-A3") == pytest.approx(0.7)
    assert gwp(fp, "A1") == pytest.approx(2.0)  # raw material category stays in A1 at the gate
    assert gwp(fp, "A3") == pytest.approx(-1.3)


def test_mass_allocation():
    procs = [proc("benef", [("conc", 1, "kg"), ("iron", 3000, "g")], [("el", 8, "kWh")], allocation={"method": "mass"})]
    fps = {f.product: f for f in compute(system(procs, ["conc", "iron"]))}
    # 4 kWh total-burden-per-run x 0.5: conc gets 1/4 of 4 kg CO2 per 1 kg; iron 3/4 per 3 kg.
    assert gwp(fps["conc"], "A1-A3") == pytest.approx(1.0) and gwp(fps["iron"], "A1-A3") == pytest.approx(1.0)
    rec = fps["conc"].allocations[0]
    assert rec.method.value == "mass" and float(rec.factors["conc"]) == pytest.approx(0.25)


def test_economic_allocation_keeps_price_basis_and_period():
    alloc = {
        "method": "economic",
        "price_basis": "test prices",
        "period": "2023",
        "prices": {
            "ndpr": {"amount": 450, "currency": "CNY", "unit": "kg"},
            "lace": {"amount": 5000, "currency": "CNY", "unit": "t"},
        },
    }
    procs = [proc("sx", [("ndpr", 200, "kg"), ("lace", 750, "kg")], [("el", 1000, "kWh")], allocation=alloc)]
    fps = {f.product: f for f in compute(system(procs, ["ndpr", "lace"]))}
    rev_ndpr, rev_lace = 200 * 450, 750 * 5
    f_ndpr = rev_ndpr / (rev_ndpr + rev_lace)
    assert gwp(fps["ndpr"], "A1-A3") == pytest.approx(500 * f_ndpr / 200)
    assert gwp(fps["lace"], "A1-A3") == pytest.approx(500 * (1 - f_ndpr) / 750)
    rec = fps["lace"].allocations[0]
    assert (rec.price_basis, rec.period) == ("test prices", "2023") and rec.prices["lace"].unit == "t"
    assert fps["lace"].as_dict()["allocations"][0]["period"] == "2023"


def test_explicit_allocation_factors():
    alloc = {"method": "explicit", "factors": {"magnet": 0.9, "swarf": 0.1}}
    procs = [proc("grind", [("magnet", 1, "kg"), ("swarf", 0.5, "kg")], [("el", 10, "kWh")], allocation=alloc)]
    fps = {f.product: f for f in compute(system(procs, ["magnet", "swarf"]))}
    assert gwp(fps["magnet"], "A1-A3") == pytest.approx(4.5) and gwp(fps["swarf"], "A1-A3") == pytest.approx(1.0)


def test_supply_mix_of_two_plants():
    products = [{"id": "oxide", "unit": "kg", "supply_mix": {"p1": 0.25, "p2": 0.75}}]
    procs = [proc("p1", [("oxide", 1, "kg")], [("el", 4, "kWh")]), proc("p2", [("oxide", 1, "kg")], [("el", 8, "kWh")])]
    fps = {f.product: f for f in compute(system(procs, products), ["oxide", "oxide@p1", "oxide@p2"])}
    assert gwp(fps["oxide"], "A1-A3") == pytest.approx(0.25 * 2 + 0.75 * 4)
    assert gwp(fps["oxide@p1"], "A1-A3") == pytest.approx(2.0) and gwp(fps["oxide@p2"], "A1-A3") == pytest.approx(4.0)
