"""Emissions of one hourly bucket: activity totals x selected factors, by source and by gas."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from epd_intensity.core.activities import DIRECT_GASES, classify, source_for_gas
from epd_intensity.core.bucket import Bucket
from epd_intensity.core.decimals import mul, quantise
from epd_intensity.core.totals import LineKey, WindowTotals
from epd_intensity.factors.model import SOURCE_BY_NAME, Factor, FactorSet, GwpSet
from epd_intensity.factors.selection import FactorMissing, region_chain, selected
from epd_intensity.processes import ProcessConfig


@dataclass(frozen=True)
class GwpMissing:
    """A gas without a GWP in the chosen set: its CO2e cannot be computed (counted, not raised)."""

    gas: str
    gwp_set: str
    activity: str


Missing = FactorMissing | GwpMissing


def _lines(
    lines: dict[LineKey, tuple[Decimal, Decimal]],
    missing: list[Missing],
    factor: Factor,
    source: int | None,
    activity: str,
    quantity: Decimal,
    gwp: GwpSet,
) -> None:
    """Add one factor applied to one quantity. `source` None: the source follows each gas."""
    if factor.co2e is not None:
        co2e = quantise(mul(quantity, factor.co2e))
        lines[(source or 0, "CO2e", activity, factor.id)] = (co2e, co2e)
        return
    for gas, per_unit in sorted(factor.gases.items()):
        value = gwp.get(gas)
        if value is None:
            missing.append(GwpMissing(gas, gwp.name, activity))
            continue
        mass = quantise(mul(quantity, per_unit))
        lines[(source if source is not None else source_for_gas(gas), gas, activity, factor.id)] = (
            mass,
            quantise(mul(mass, value)),
        )


def compute_totals(bucket: Bucket, process: ProcessConfig, factors: FactorSet) -> tuple[WindowTotals, list[Missing]]:
    """Totals of an hourly bucket under one factor set. Missing factors or GWPs leave the line
    out and are returned for counting; the activity itself is still reported."""
    gwp_name = process.gwp_set or factors.default_gwp_set
    gwp = factors.gwp(gwp_name)
    missing: list[Missing] = []
    totals = WindowTotals(
        reading_count=bucket.reading_count,
        merkle_root=bucket.merkle_root(),
        factor_set_versions=(factors.version,),
        gwp_sets=(gwp_name,),
    )
    if gwp is None:
        gwp = GwpSet(gwp_name, {}, "missing")
    regions = region_chain(process.province, process.grid_region)
    year = bucket.start.year
    measured_gases: set[str] = set()
    for (kind, code, unit), raw in sorted(bucket.quantities.items()):
        quantity = quantise(raw)
        totals.activities[(kind, code, unit)] = quantity
        spec = classify(code, kind)
        if spec is None:  # cannot happen for admitted readings; keep the function total anyway
            continue
        if spec.product:
            totals.outputs[spec.product] = quantity
            continue
        if spec.gas:
            measured_gases.add(spec.gas)
            value = gwp.get(spec.gas)
            if value is None:
                missing.append(GwpMissing(spec.gas, gwp_name, code))
                continue
            source = DIRECT_GASES[code.partition(".")[2]][1]
            totals.emissions[(source, spec.gas, code, f"gwp:{gwp_name}:{spec.gas}")] = (
                quantity,
                quantise(mul(quantity, value)),
            )
            continue
        for source_name in spec.sources:
            selection = selected(factors, code, source_name, regions, year)
            if isinstance(selection, FactorMissing):
                missing.append(selection)
                continue
            _lines(totals.emissions, missing, selection.factor, SOURCE_BY_NAME[source_name], code, quantity, gwp)
    _model_lines(totals, missing, process, factors, gwp, regions, year, measured_gases)
    return totals, missing


def _model_lines(
    totals: WindowTotals,
    missing: list[Missing],
    process: ProcessConfig,
    factors: FactorSet,
    gwp: GwpSet,
    regions: tuple[str, ...],
    year: int,
    measured: set[str],
) -> None:
    """Modelled direct emissions per kg of the model's product, for gases not measured this hour."""
    model = process.emission_model
    output = totals.outputs.get(model.product) if model else None
    if model is None or output is None:
        return
    selection = selected(factors, model.activity, "modelled_direct", regions, year)
    if isinstance(selection, FactorMissing):
        missing.append(selection)
        return
    factor = selection.factor
    unmeasured = {g: v for g, v in factor.gases.items() if g not in measured}
    if factor.co2e is None and not unmeasured:
        return
    partial = replace(factor, gases=unmeasured) if factor.co2e is None else factor
    activity = f"output.{model.product}"
    _lines(totals.emissions, missing, partial, None, activity, output, gwp)
