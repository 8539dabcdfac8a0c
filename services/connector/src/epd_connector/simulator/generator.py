"""Deterministic telemetry generator for a Baotou-style chain.

Per step and stage: output = nominal rate x step x (1 + noise); each activity = output x ratio x
(1 + noise) x drift. Interval meters report the step amount; counter meters a running register
(with rollover and occasional resets). Some readings are deliberately bad (NaN, infinity,
negative, unknown unit) and flagged, so tests can count what ingest must reject.
All randomness comes from one `random.Random(seed)` drawn in a fixed order that does not depend
on drifts, so a run with a drift differs from the same run without it only by the drift.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from epd.v1 import telemetry_pb2
from epd_connector.simulator.drift import Drift
from epd_connector.simulator.ratios import SimMeter, Stage

_Q = Decimal("0.000001")


class BadData(StrEnum):
    NAN = "nan"
    INFINITY = "infinity"
    NEGATIVE = "negative"
    UNKNOWN_UNIT = "unknown_unit"


@dataclass(frozen=True)
class SimulationSpec:
    plant_id: str
    start: datetime
    duration: timedelta
    step: timedelta = timedelta(seconds=60)
    seed: int = 0
    stages: tuple[str, ...] | None = None  # None: every stage in the ratios
    noise: float = 0.02  # relative standard deviation
    reset_probability: float = 0.0005  # per counter reading
    bad_probability: float = 0.001  # per reading
    drifts: tuple[Drift, ...] = ()

    def __post_init__(self) -> None:
        if self.step <= timedelta(0) or self.duration < timedelta(0):
            raise ValueError("step must be > 0 and duration >= 0")
        for p in (self.noise, self.reset_probability, self.bad_probability):
            if not 0 <= p <= 1:
                raise ValueError("noise and probabilities must lie in [0, 1]")


@dataclass(frozen=True)
class SimulatedReading:
    raw: telemetry_pb2.RawReading
    quantity: Decimal  # true amount of this step in the canonical unit (drift included)
    bad: BadData | None = None
    counter_reset: bool = False


@dataclass
class _Register:
    value: Decimal
    rollover: Decimal | None = None

    def advance(self, amount: Decimal) -> None:
        self.value += amount
        if self.rollover is not None and self.value >= self.rollover:
            self.value -= self.rollover


@dataclass
class _Run:
    spec: SimulationSpec
    stages: Sequence[Stage]
    rng: random.Random
    registers: dict[str, _Register] = field(default_factory=dict)


def _noise(rng: random.Random, sd: float) -> Decimal:
    # Clipped so noise never flips a sign: at most +-4 standard deviations, and above -90%.
    g = max(-4.0, min(4.0, rng.gauss(0.0, 1.0)))
    return Decimal(repr(max(-0.9, g * sd)))


def _drift_factor(drifts: Sequence[Drift], meter_id: str, offset: timedelta) -> Decimal:
    f = Decimal(1)
    for d in drifts:
        if d.meter_id == meter_id and offset >= d.after:
            f *= d.factor
    return f


def simulate(spec: SimulationSpec, ratios: dict[str, Stage]) -> Iterator[SimulatedReading]:
    """Readings for every step in (start, start + duration], stage by stage, meter by meter."""
    names = spec.stages or tuple(ratios)
    unknown = [n for n in names if n not in ratios]
    if unknown:
        raise ValueError(f"unknown stage(s): {', '.join(unknown)}; known: {', '.join(ratios)}")
    known_meters = {m.meter_id for n in names for m in ratios[n].meters}
    for d in spec.drifts:
        if d.meter_id not in known_meters:
            raise ValueError(f"drift targets unknown meter {d.meter_id!r}")
    run = _Run(spec, [ratios[n] for n in names], random.Random(spec.seed))
    step_h = Decimal(str(spec.step.total_seconds())) / 3600
    for stage in run.stages:
        for m in stage.meters:
            if m.kind == "counter":
                steps = stage.nominal_kg_per_hour * step_h * m.per_kg * m.factor
                start = Decimal(run.rng.randint(1000, 100_000)) * steps
                if m.rollover is not None:
                    start = m.rollover * Decimal(run.rng.randint(10, 80)) / 100
                run.registers[m.meter_id] = _Register(start.quantize(_Q), m.rollover)
    k = 1
    while spec.step * k <= spec.duration:
        offset = spec.step * k
        at = spec.start + offset
        for stage in run.stages:
            output_kg = stage.nominal_kg_per_hour * step_h * (1 + _noise(run.rng, spec.noise))
            for m in stage.meters:
                yield _reading(run, m, output_kg, at, offset)
        k += 1


def _reading(run: _Run, m: SimMeter, output_kg: Decimal, at: datetime, offset: timedelta) -> SimulatedReading:
    rng, spec = run.rng, run.spec
    noise = Decimal(0) if m.activity_kind == "product_output" else _noise(rng, spec.noise)
    reset = rng.random() < spec.reset_probability
    bad_draw, bad_kind = rng.random(), rng.choice(list(BadData))
    quantity = output_kg * m.per_kg * (1 + noise) * _drift_factor(spec.drifts, m.meter_id, offset)
    amount = (quantity * m.factor).quantize(_Q)
    raw = telemetry_pb2.RawReading(
        meter_id=m.meter_id,
        unit=m.meter_unit,
        quality=telemetry_pb2.READING_QUALITY_GOOD,
        source_ref=f"sim:{m.meter_id}",
        kind=telemetry_pb2.READING_KIND_COUNTER if m.kind == "counter" else telemetry_pb2.READING_KIND_INTERVAL,
    )
    raw.observed_at.FromDatetime(at)
    counter_reset = False
    if m.kind == "counter":
        reg = run.registers[m.meter_id]
        if reset:
            reg.value, counter_reset = Decimal(0), True
        reg.advance(amount)
        raw.value = str(reg.value)
    else:
        raw.value = str(amount)
    bad = bad_kind if bad_draw < spec.bad_probability else None
    if bad is BadData.NAN:
        raw.value = "NaN"
    elif bad is BadData.INFINITY:
        raw.value = "Infinity"
    elif bad is BadData.NEGATIVE:
        raw.value = str(-abs(Decimal(raw.value)) - 1)
    elif bad is BadData.UNKNOWN_UNIT:
        raw.unit = "furlongs-per-fortnight"
    return SimulatedReading(raw, quantity, bad, counter_reset)
