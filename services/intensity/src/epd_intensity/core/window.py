"""Build IntensityWindow messages from totals, and read totals back from a window message."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import intensity_pb2
from epd_intensity.core.allocation import allocation_shares
from epd_intensity.core.decimals import INTENSITY, SHARE, div, mul, quantise, wire
from epd_intensity.core.ids import SIZE_SPANS, window_id
from epd_intensity.core.totals import WindowTotals
from epd_intensity.processes import ProcessConfig

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ts(moment: datetime) -> Timestamp:
    """Timestamp.FromDatetime's value for an aware datetime, in integer arithmetic (FromDatetime goes
    through a time tuple)."""
    timestamp = Timestamp()
    _set_ts(timestamp, moment)
    return timestamp


def _set_ts(timestamp: Timestamp, moment: datetime) -> None:
    """Set a window's Timestamp field in place: passing Timestamp messages to the IntensityWindow
    constructor copies each (several times the cost of the rest of the window's header)."""
    delta = moment - _EPOCH
    timestamp.seconds = delta.days * 86400 + delta.seconds
    timestamp.nanos = delta.microseconds * 1000


def build_window(
    totals: WindowTotals,
    process: ProcessConfig,
    size: intensity_pb2.WindowSize,
    start: datetime,
    revision: int,
    computed_at: datetime,
) -> intensity_pb2.IntensityWindow:
    """The wire message; every figure follows core/decimals.py. Deterministic for equal inputs.

    `computed_at` should be event time (the watermark that closed or revised the window), not the
    wall clock, so a replay produces byte-identical windows.
    """
    total = totals.total_co2e
    window = intensity_pb2.IntensityWindow(
        window_id=window_id(process.process_id, start, size, revision),
        process_id=process.process_id,
        plant_id=process.plant_id,
        size=size,
        revision=revision,
        factor_set_version=",".join(totals.factor_set_versions),
        gwp_set=",".join(totals.gwp_sets),
        allocation_basis=process.allocation_basis,
        allocation_price_basis=process.allocation.wire_basis,
        total_co2e_kg=wire(total),
    )
    _set_ts(window.window_start, start)
    _set_ts(window.window_end, start + SIZE_SPANS[size])
    _set_ts(window.computed_at, computed_at)
    evidence = window.evidence
    evidence.reading_count = totals.reading_count
    evidence.merkle_root = totals.merkle_root
    for (kind, code, unit), q in sorted(totals.activities.items()):
        window.activities.add(activity_kind=kind, activity=code, quantity=wire(q), unit=unit)
    for (source, gas, activity, factor_id), (mass, co2e) in sorted(totals.emissions.items()):
        window.emissions.add(
            source=source, gas=gas, mass_kg=wire(mass), co2e_kg=wire(co2e), activity=activity, factor_id=factor_id
        )
    shares = allocation_shares(totals.outputs, process)
    for product in sorted(process.products):
        output = quantise(totals.outputs.get(product, Decimal(0)))
        share = shares[product]
        allocated = quantise(mul(total, share))
        window.outputs.add(product_id=product, quantity_kg=wire(output), allocation_share=wire(share, SHARE))
        if output > 0:
            window.intensities.add(
                product_id=product,
                defined=True,
                allocated_co2e_kg=wire(allocated),
                kg_co2e_per_kg=wire(div(allocated, output), INTENSITY),
            )
        else:  # zero output: intensity undefined (not infinite); emissions stay in total_co2e_kg
            window.intensities.add(
                product_id=product, defined=False, allocated_co2e_kg=wire(allocated), kg_co2e_per_kg=""
            )
    return window


def totals_from_window(window: intensity_pb2.IntensityWindow) -> WindowTotals:
    """The totals an hourly window carries, so derived windows can be computed from messages alone."""
    totals = WindowTotals(
        reading_count=window.evidence.reading_count,
        merkle_root=window.evidence.merkle_root,
        factor_set_versions=tuple(v for v in window.factor_set_version.split(",") if v),
        gwp_sets=tuple(v for v in window.gwp_set.split(",") if v),
    )
    for a in window.activities:
        totals.activities[(a.activity_kind, a.activity, a.unit)] = Decimal(a.quantity)
    for e in window.emissions:
        totals.emissions[(e.source, e.gas, e.activity, e.factor_id)] = (Decimal(e.mass_kg), Decimal(e.co2e_kg))
    for o in window.outputs:
        q = Decimal(o.quantity_kg)
        if q:
            totals.outputs[o.product_id] = q
    return totals
