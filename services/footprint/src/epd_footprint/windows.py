"""Fold intensity windows into a live per-run inventory of a telemetry-backed process (pure).

Rule (documented in the README):
- Only windows of the configured sizes count (default ROLLING_30D: a 30-day basis smooths shift and
  batch effects, so the drift rule compares like with like). Per process the LATEST window wins:
  later window_start, or the same start with a higher revision (late data). Older windows are
  recorded as applied (idempotency) but do not change the inventory.
- The window's activities are scaled to one run of the declared process: factor = declared amount
  of the process's FIRST output (in kg) / the window's output of that product (kg). Each bound
  activity code (binding.py) replaces the declared input of its background activity with
  quantity x factor, in the window's canonical unit (kWh, GJ, kg; the engine converts units);
  direct gas codes replace the declared emission of that gas. Declared inputs and emissions the
  window does not report stay as declared (a meter that is not installed is not a zero).
- A window without output of the reference product cannot give a per-kg inventory (intensity
  undefined): it is recorded with outcome `no_output` and changes nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from epd.v1 import intensity_pb2

from .binding import ProcessBinding
from .engine.errors import ProductSystemError
from .engine.model import Emission, Exchange, Origin, Process
from .engine.units import conversion_factor
from .errors import FootprintError

SIZES = {
    "HOURLY": intensity_pb2.WINDOW_SIZE_HOURLY,
    "DAILY": intensity_pb2.WINDOW_SIZE_DAILY,
    "ROLLING_30D": intensity_pb2.WINDOW_SIZE_ROLLING_30D,
}
SIZE_NAMES = {v: k for k, v in SIZES.items()}
MAX_AMOUNT = Decimal("1e15")
MAX_REVISION = 2**31 - 1
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_MERKLE = re.compile(r"^[0-9a-f]{64}$")


class WindowError(FootprintError):
    """A window that cannot be used; `reason` is a stable code (metrics label, rejected-window row)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"[{reason}] {message}")
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class WindowFacts:
    window_id: str
    revision: int
    process_id: str
    plant_id: str
    size: str
    start: datetime
    end: datetime
    merkle_root: str
    activities: dict[str, tuple[Decimal, str]]  # code -> (quantity, unit)
    outputs: dict[str, Decimal]  # registry product -> kg

    @property
    def evidence(self) -> dict[str, Any]:
        return {
            "window_id": self.window_id,
            "revision": self.revision,
            "merkle_root": self.merkle_root,
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
        }


def _decimal(text: str, where: str) -> Decimal:
    if not isinstance(text, str) or len(text) > 64:
        raise WindowError("invalid_number", f"{where}: decimal text missing or too long")
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise WindowError("invalid_number", f"{where}: {text[:40]!r} is not a decimal") from None
    if not d.is_finite() or d < 0 or d > MAX_AMOUNT:
        raise WindowError("invalid_number", f"{where}: {text[:40]!r} must be finite, >= 0 and <= 1e15")
    return d


def _text(value: str, where: str) -> str:
    if not _TEXT.fullmatch(value or ""):
        raise WindowError("malformed", f"{where}: 1..200 printable characters required")
    return value


def _time(ts: Any, where: str) -> datetime:
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise WindowError("malformed", f"{where}: timestamp out of range") from None


def read_window(msg: intensity_pb2.IntensityWindow) -> WindowFacts:
    """Validate a decoded window; raises WindowError with a reason."""
    size = SIZE_NAMES.get(msg.size)
    if size is None:
        raise WindowError("unknown_size", f"window size {msg.size} is not known")
    if msg.revision > MAX_REVISION:
        raise WindowError("invalid_number", "revision out of range")
    start, end = _time(msg.window_start, "window_start"), _time(msg.window_end, "window_end")
    if not start < end:
        raise WindowError("malformed", "window_end must be after window_start")
    root = msg.evidence.merkle_root
    if not _MERKLE.fullmatch(root):
        raise WindowError("bad_evidence", "evidence.merkle_root must be 64 lower-case hex characters")
    activities: dict[str, tuple[Decimal, str]] = {}
    for i, a in enumerate(msg.activities):
        code = _text(a.activity, f"activities[{i}].activity")
        activities[code] = (_decimal(a.quantity, f"activities[{i}].quantity"), _text(a.unit, f"activities[{i}].unit"))
    outputs = {
        _text(o.product_id, f"outputs[{i}].product_id"): _decimal(o.quantity_kg, f"outputs[{i}].quantity_kg")
        for i, o in enumerate(msg.outputs)
    }
    return WindowFacts(
        _text(msg.window_id, "window_id"),
        int(msg.revision),
        _text(msg.process_id, "process_id"),
        msg.plant_id[:200],
        size,
        start,
        end,
        root,
        activities,
        outputs,
    )


class Row(Protocol):
    """A stored row by column name (an asyncpg Record, a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True)
class LiveInventory:
    """Overrides of one process for one run, and the window they come from."""

    window_id: str
    revision: int
    size: str
    start: datetime
    end: datetime
    merkle_root: str
    inputs: dict[str, tuple[Decimal, str]]  # background id -> amount per run
    emissions: dict[str, Decimal]  # gas -> kg per run (fossil)

    def as_json(self) -> dict[str, Any]:
        return {
            "inputs": {k: [str(a), u] for k, (a, u) in self.inputs.items()},
            "emissions": {g: str(a) for g, a in self.emissions.items()},
        }

    @classmethod
    def from_row(cls, row: Row, inventory: Mapping[str, Any]) -> LiveInventory:
        return cls(
            row["window_id"],
            row["revision"],
            row["window_size"],
            row["window_start"],
            row["window_end"],
            row["merkle_root"],
            {k: (Decimal(a), u) for k, (a, u) in inventory["inputs"].items()},
            {g: Decimal(a) for g, a in inventory["emissions"].items()},
        )


def is_newer(current: LiveInventory | None, facts: WindowFacts) -> bool:
    if current is None:
        return True
    return (facts.start, facts.revision) > (current.start, current.revision)


def fold(declared: Process, binding: ProcessBinding, registry_product: str, facts: WindowFacts) -> LiveInventory:
    """The per-run overrides a window gives for `declared` (see the module docstring)."""
    ref = declared.outputs[0]
    produced = facts.outputs.get(registry_product, Decimal(0))
    if produced <= 0:
        raise WindowError("no_output", f"window has no output of {registry_product!r}: intensity undefined")
    try:
        ref_kg = ref.amount * Decimal(repr(conversion_factor(ref.unit, "kg")))
    except ProductSystemError:
        raise WindowError("unit_mismatch", f"reference output of {declared.id!r} is not in mass units") from None
    factor = ref_kg / produced
    inputs: dict[str, tuple[Decimal, str]] = {}
    emissions: dict[str, Decimal] = {}
    for code, (quantity, unit) in sorted(facts.activities.items()):
        target = binding.target(code)
        if target is None:
            continue
        amount = quantity * factor
        if amount > MAX_AMOUNT:
            raise WindowError("invalid_number", f"{code}: {amount:.3e} per run is out of range")
        if target.gas:
            emissions[target.gas] = emissions.get(target.gas, Decimal(0)) + amount * _kg(unit, code)
        else:
            assert target.background is not None
            prev = inputs.get(target.background)
            inputs[target.background] = (amount + (prev[0] if prev else 0), unit)
    return LiveInventory(
        facts.window_id, facts.revision, facts.size, facts.start, facts.end, facts.merkle_root, inputs, emissions
    )


def _kg(unit: str, code: str) -> Decimal:
    try:
        return Decimal(repr(conversion_factor(unit, "kg")))
    except ProductSystemError:
        raise WindowError("unit_mismatch", f"{code}: direct emissions must be in mass units, got {unit!r}") from None


def live_process(declared: Process, inv: LiveInventory) -> Process:
    """The declared process with the window's overrides applied."""
    inputs = [
        Exchange(x.ref, x.is_product, inv.inputs[x.ref][0], inv.inputs[x.ref][1])
        if not x.is_product and x.ref in inv.inputs
        else x
        for x in declared.inputs
    ]
    present = {x.ref for x in declared.inputs if not x.is_product}
    inputs += [Exchange(bg, False, a, u) for bg, (a, u) in inv.inputs.items() if bg not in present]
    kept = [e for e in declared.emissions if not (e.origin is Origin.FOSSIL and e.gas in inv.emissions)]
    emissions = kept + [Emission(g, Origin.FOSSIL, a, "kg") for g, a in inv.emissions.items()]
    return dataclasses.replace(declared, inputs=tuple(inputs), emissions=tuple(emissions))
