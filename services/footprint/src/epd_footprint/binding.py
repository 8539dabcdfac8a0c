"""The binding of a product system to the registry and to telemetry (pure; validated against the system).

```json
{"factor_set_version": "set-2025.1",
 "products": {"roasted-ore": "baotou-roasted-ore"},          # engine product -> registry product (default: same id)
 "processes": {"baotou-1/acid-roasting": {
     "process_id": "baotou-1/roasting",                        # registry process (windows are keyed by it)
     "telemetry": true,                                        # false: declared inventory only
     "activities": {"electricity.grid": "grid-inner-mongolia-2022",   # window activity code -> background id
                    "gas.co2": "gas:CO2"}}}}                   # ... or a direct emission of a gas (kg)
```
Direct gas codes (`gas.co2`, `gas.cf4`, ...) map to their gas without an entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .engine.model import ProductSystem
from .errors import FootprintError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:+#-]{0,127}$")
_CODE = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
DEFAULT_GASES = {
    "gas.co2": "CO2",
    "gas.ch4": "CH4",
    "gas.n2o": "N2O",
    "gas.cf4": "CF4",
    "gas.c2f6": "C2F6",
    "gas.sf6": "SF6",
}


class BindingError(FootprintError):
    """A binding that does not fit its product system; the message says where."""


@dataclass(frozen=True)
class ActivityTarget:
    background: str | None = None  # background activity id
    gas: str | None = None  # direct emission of this gas, kg


@dataclass(frozen=True)
class ProcessBinding:
    engine_process_id: str
    process_id: str
    telemetry: bool
    activities: dict[str, ActivityTarget] = field(default_factory=dict)

    def target(self, code: str) -> ActivityTarget | None:
        if code in self.activities:
            return self.activities[code]
        gas = DEFAULT_GASES.get(code)
        return ActivityTarget(gas=gas) if gas else None


@dataclass(frozen=True)
class Binding:
    factor_set_version: str
    products: dict[str, str]  # engine product -> registry product
    processes: dict[str, ProcessBinding]  # engine process -> binding

    def registry_product(self, engine_product: str) -> str:
        return self.products.get(engine_product, engine_product)

    def for_registry_process(self, process_id: str) -> list[ProcessBinding]:
        return [b for b in self.processes.values() if b.process_id == process_id]

    def as_json(self) -> dict[str, Any]:
        return {
            "factor_set_version": self.factor_set_version,
            "products": dict(self.products),
            "processes": {
                k: {
                    "process_id": b.process_id,
                    "telemetry": b.telemetry,
                    "activities": {c: (f"gas:{t.gas}" if t.gas else t.background) for c, t in b.activities.items()},
                }
                for k, b in self.processes.items()
            },
        }


def _ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BindingError(f"{where}: expected an id (letters, digits, ._/:+#-; up to 128 characters)")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BindingError(f"{where}: expected an object")
    if len(value) > 10_000:
        raise BindingError(f"{where}: too many entries")
    return value


def parse_binding(data: Any, system: ProductSystem) -> Binding:
    doc = _mapping(data, "binding")
    unknown = set(doc) - {"factor_set_version", "products", "processes"}
    if unknown:
        raise BindingError(f"binding: unknown fields {sorted(unknown)[:5]}")
    fsv = doc.get("factor_set_version")
    if not isinstance(fsv, str) or not 1 <= len(fsv) <= 100 or not fsv.isprintable():
        raise BindingError("binding.factor_set_version: a short printable text is required")
    products: dict[str, str] = {}
    for k, v in _mapping(doc.get("products", {}), "binding.products").items():
        if k not in system.products:
            raise BindingError(f"binding.products: {str(k)[:60]!r} is not a product of the system")
        products[k] = _ident(v, f"binding.products.{k}")
    processes: dict[str, ProcessBinding] = {}
    for k, v in _mapping(doc.get("processes", {}), "binding.processes").items():
        where = f"binding.processes.{str(k)[:60]}"
        if k not in system.processes:
            raise BindingError(f"{where}: not a process of the system")
        entry = _mapping(v, where)
        extra = set(entry) - {"process_id", "telemetry", "activities"}
        if extra:
            raise BindingError(f"{where}: unknown fields {sorted(extra)[:5]}")
        telemetry = entry.get("telemetry", True)
        if not isinstance(telemetry, bool):
            raise BindingError(f"{where}.telemetry: expected true or false")
        acts: dict[str, ActivityTarget] = {}
        for code, target in _mapping(entry.get("activities", {}), f"{where}.activities").items():
            if not isinstance(code, str) or len(code) > 64 or not _CODE.fullmatch(code):
                raise BindingError(f"{where}.activities: {str(code)[:60]!r} is not an activity code")
            if isinstance(target, str) and target.startswith("gas:"):
                acts[code] = ActivityTarget(gas=_ident(target[4:], f"{where}.activities.{code}"))
            else:
                bg = _ident(target, f"{where}.activities.{code}")
                if bg not in system.background:
                    raise BindingError(f"{where}.activities.{code}: {bg!r} is not a background activity of the system")
                acts[code] = ActivityTarget(background=bg)
        processes[k] = ProcessBinding(k, _ident(entry.get("process_id"), f"{where}.process_id"), telemetry, acts)
    return Binding(fsv, products, processes)
