"""Read the documented YAML/JSON product-system format (docs/product-system-format.md) into the model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml

from .errors import ProductSystemError, Reason
from .gwp_sets import BUILT_IN
from .model import (
    Allocation,
    AllocationMethod,
    BackgroundActivity,
    Category,
    Emission,
    Exchange,
    GasFactor,
    GwpSet,
    Origin,
    Output,
    Price,
    Process,
    Product,
    ProductSystem,
)
from .numbers import parse_decimal
from .units import check_unit

FORMAT_ID = "epd-product-system/1"
MAX_FILE_BYTES = 32 * 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:+#-]{0,127}$")
_GAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


def load_file(path: str | Path) -> ProductSystem:
    """Read a .yaml/.yml/.json product-system file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProductSystemError(Reason.MALFORMED, "file larger than 32 MiB", str(path))
        raw = path.read_bytes()
    except OSError as exc:
        raise ProductSystemError(Reason.MALFORMED, f"cannot read file: {exc.strerror}", str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProductSystemError(Reason.MALFORMED, "file is not UTF-8", str(path)) from None
    return load_text(text, "json" if path.suffix.lower() == ".json" else "yaml")


def load_text(text: str, syntax: str = "yaml") -> ProductSystem:
    """Parse YAML (default) or JSON text."""
    if "\x00" in text:
        raise ProductSystemError(Reason.MALFORMED, "NUL byte in input")
    try:
        data = json.loads(text) if syntax == "json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ProductSystemError(Reason.MALFORMED, f"not valid {syntax.upper()}: {str(exc)[:200]}") from None
    except RecursionError:
        raise ProductSystemError(Reason.MALFORMED, "input nested too deeply") from None
    return parse_system(data)


def parse_system(data: Any) -> ProductSystem:
    doc = _mapping(
        data, "$", required={"format", "gwp", "products", "processes"}, optional={"name", "background", "description"}
    )
    if doc["format"] != FORMAT_ID:
        raise ProductSystemError(Reason.MALFORMED, f"format must be {FORMAT_ID!r}", "$.format")
    products = _unique(
        [parse_product(p, f"$.products[{i}]") for i, p in enumerate(_list(doc["products"], "$.products"))], "products"
    )
    background = _unique(
        [
            parse_background(b, f"$.background[{i}]")
            for i, b in enumerate(_list(doc.get("background", []), "$.background"))
        ],
        "background",
    )
    processes = _unique(
        [parse_process(p, f"$.processes[{i}]") for i, p in enumerate(_list(doc["processes"], "$.processes"))],
        "processes",
    )
    return ProductSystem(
        name=_text(doc.get("name", ""), "$.name", allow_empty=True),
        gwp=parse_gwp(doc["gwp"], "$.gwp"),
        products=products,
        background=background,
        processes=processes,
    )


def parse_gwp(data: Any, where: str) -> GwpSet:
    """A built-in set by name (`AR6`, or `{set: AR6}`), or a table `{name, source, factors, basis?}` whose
    keys are a gas (every origin) or `GAS/origin` (origin-specific, e.g. `CH4/fossil`)."""
    if isinstance(data, str) or (isinstance(data, Mapping) and set(data) == {"set"}):
        name = data if isinstance(data, str) else data["set"]
        found = BUILT_IN.get(name) if isinstance(name, str) else None
        if found is None:
            raise ProductSystemError(
                Reason.MISSING_FACTOR, f"unknown GWP set {str(name)[:40]!r}; built in: {', '.join(BUILT_IN)}", where
            )
        return found
    doc = _mapping(data, where, required={"name", "source", "factors"}, optional={"basis"})
    factors = _mapping(doc["factors"], f"{where}.factors")
    table = {}
    for key, value in factors.items():
        gas, origin = _gas_key(key, f"{where}.factors", explicit=True)
        table[gas if origin is None else f"{gas}/{origin.value}"] = parse_decimal(
            value, f"{where}.factors.{key}", sign="positive"
        )
    name = _text(doc["name"], f"{where}.name")
    return GwpSet(
        name=name,
        source=_text(doc["source"], f"{where}.source"),
        factors=table,
        basis=_text(doc["basis"], f"{where}.basis") if "basis" in doc else name,
    )


def parse_product(data: Any, where: str) -> Product:
    doc = _mapping(
        data, where, required={"id", "unit"}, optional={"name", "declared_unit", "classification", "supply_mix"}
    )
    unit = check_unit(doc["unit"], f"{where}.unit")
    declared = _mapping(
        doc.get("declared_unit", {"amount": 1, "unit": unit}), f"{where}.declared_unit", required={"amount", "unit"}
    )
    return Product(
        id=_ident(doc["id"], f"{where}.id"),
        unit=unit,
        declared_amount=parse_decimal(declared["amount"], f"{where}.declared_unit.amount", sign="positive"),
        declared_unit=check_unit(declared["unit"], f"{where}.declared_unit.unit"),
        name=_text(doc.get("name", ""), f"{where}.name", allow_empty=True),
        classification=_text(doc["classification"], f"{where}.classification") if "classification" in doc else None,
        supply_mix={
            _ident(k, f"{where}.supply_mix"): parse_decimal(v, f"{where}.supply_mix.{k}", sign="nonnegative")
            for k, v in _mapping(doc.get("supply_mix", {}), f"{where}.supply_mix").items()
        },
    )


def parse_background(data: Any, where: str) -> BackgroundActivity:
    doc = _mapping(
        data, where, required={"id", "unit", "category", "emissions"}, optional={"name", "source", "default"}
    )
    emissions = []
    for key, value in _mapping(doc["emissions"], f"{where}.emissions").items():
        gas, origin = _gas_key(key, f"{where}.emissions")
        assert origin is not None
        # Only biogenic flows may be negative (uptake); everything else is an emission.
        sign = "any" if origin is Origin.BIOGENIC else "nonnegative"
        emissions.append(GasFactor(gas, origin, parse_decimal(value, f"{where}.emissions.{key}", sign=sign)))
    source = _text(doc["source"], f"{where}.source") if doc.get("source") is not None else None
    default = doc.get("default", False)
    if not isinstance(default, bool):
        raise ProductSystemError(Reason.MALFORMED, "default must be true or false", f"{where}.default")
    if source is None and not default:
        raise ProductSystemError(Reason.MISSING_SOURCE, "a background factor needs a source or `default: true`", where)
    return BackgroundActivity(
        id=_ident(doc["id"], f"{where}.id"),
        unit=check_unit(doc["unit"], f"{where}.unit"),
        category=_enum(Category, doc["category"], f"{where}.category"),
        emissions=tuple(emissions),
        source=source,
        default=default,
        name=_text(doc.get("name", ""), f"{where}.name", allow_empty=True),
    )


def parse_process(data: Any, where: str) -> Process:
    """Parse one process; also used for live inventory overrides."""
    doc = _mapping(
        data, where, required={"id", "outputs"}, optional={"name", "plant", "inputs", "emissions", "allocation"}
    )
    outputs = tuple(
        _output(o, f"{where}.outputs[{i}]") for i, o in enumerate(_list(doc["outputs"], f"{where}.outputs"))
    )
    if not outputs:
        raise ProductSystemError(Reason.MALFORMED, "a process needs at least one output", f"{where}.outputs")
    if len({o.product for o in outputs}) != len(outputs):
        raise ProductSystemError(Reason.DUPLICATE_ID, "a product appears twice among the outputs", f"{where}.outputs")
    allocation = _allocation(doc.get("allocation"), len(outputs), f"{where}.allocation")
    return Process(
        id=_ident(doc["id"], f"{where}.id"),
        outputs=outputs,
        inputs=tuple(
            _input(x, f"{where}.inputs[{i}]") for i, x in enumerate(_list(doc.get("inputs", []), f"{where}.inputs"))
        ),
        emissions=tuple(
            _emission(e, f"{where}.emissions[{i}]")
            for i, e in enumerate(_list(doc.get("emissions", []), f"{where}.emissions"))
        ),
        allocation=allocation,
        name=_text(doc.get("name", ""), f"{where}.name", allow_empty=True),
        plant=_text(doc["plant"], f"{where}.plant") if doc.get("plant") is not None else None,
    )


def _output(data: Any, where: str) -> Output:
    doc = _mapping(data, where, required={"product", "amount", "unit"})
    return Output(
        _ident(doc["product"], f"{where}.product"),
        parse_decimal(doc["amount"], f"{where}.amount", sign="positive"),
        check_unit(doc["unit"], f"{where}.unit"),
    )


def _input(data: Any, where: str) -> Exchange:
    doc = _mapping(data, where, required={"amount", "unit"}, optional={"product", "activity"})
    if ("product" in doc) == ("activity" in doc):
        raise ProductSystemError(Reason.MALFORMED, "an input names exactly one of `product` or `activity`", where)
    key = "product" if "product" in doc else "activity"
    return Exchange(
        _ident(doc[key], f"{where}.{key}"),
        key == "product",
        parse_decimal(doc["amount"], f"{where}.amount", sign="nonnegative"),
        check_unit(doc["unit"], f"{where}.unit"),
    )


def _emission(data: Any, where: str) -> Emission:
    doc = _mapping(data, where, required={"gas", "amount", "unit"}, optional={"origin"})
    origin = _enum(Origin, doc.get("origin", "fossil"), f"{where}.origin")
    sign = "any" if origin is Origin.BIOGENIC else "nonnegative"
    return Emission(
        _gas(doc["gas"], f"{where}.gas"),
        origin,
        parse_decimal(doc["amount"], f"{where}.amount", sign=sign),
        check_unit(doc["unit"], f"{where}.unit"),
    )


def _allocation(data: Any, n_outputs: int, where: str) -> Allocation:
    if data is None:
        if n_outputs > 1:
            raise ProductSystemError(Reason.MALFORMED, "a multi-output process needs an allocation", where)
        return Allocation(AllocationMethod.NONE)
    doc = _mapping(data, where, required={"method"}, optional={"factors", "prices", "price_basis", "period"})
    method = _enum(AllocationMethod, doc["method"], f"{where}.method")
    factors = {
        _ident(k, f"{where}.factors"): parse_decimal(v, f"{where}.factors.{k}", sign="nonnegative")
        for k, v in _mapping(doc.get("factors", {}), f"{where}.factors").items()
    }
    prices = {}
    for key, value in _mapping(doc.get("prices", {}), f"{where}.prices").items():
        p = _mapping(value, f"{where}.prices.{key}", required={"amount", "currency", "unit"})
        prices[_ident(key, f"{where}.prices")] = Price(
            parse_decimal(p["amount"], f"{where}.prices.{key}.amount", sign="nonnegative"),
            _text(p["currency"], f"{where}.prices.{key}.currency"),
            check_unit(p["unit"], f"{where}.prices.{key}.unit"),
        )
    if method is AllocationMethod.ECONOMIC and not (doc.get("price_basis") and doc.get("period")):
        raise ProductSystemError(Reason.MISSING_FACTOR, "economic allocation needs `price_basis` and `period`", where)
    return Allocation(
        method,
        factors,
        prices,
        _text(doc["price_basis"], f"{where}.price_basis") if doc.get("price_basis") else None,
        _text(doc["period"], f"{where}.period") if doc.get("period") else None,
    )


def _mapping(
    data: Any, where: str, required: set[str] | None = None, optional: set[str] | None = None
) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ProductSystemError(Reason.MALFORMED, f"expected a mapping, got {type(data).__name__}", where)
    if required is not None:
        missing = sorted(required - data.keys())
        if missing:
            raise ProductSystemError(Reason.MALFORMED, f"missing field(s): {', '.join(missing)}", where)
        unknown = sorted(str(k) for k in data.keys() - required - (optional or set()))
        if unknown:
            raise ProductSystemError(Reason.MALFORMED, f"unknown field(s): {', '.join(unknown)[:200]}", where)
    return data


def _list(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise ProductSystemError(Reason.MALFORMED, f"expected a list, got {type(data).__name__}", where)
    return data


def _text(value: Any, where: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()) or len(value) > 2000:
        raise ProductSystemError(Reason.MALFORMED, "expected a non-empty string (<= 2000 chars)", where)
    if any(ord(c) < 32 and c not in "\t\n" for c in value):
        raise ProductSystemError(Reason.MALFORMED, "control character in text", where)
    return value


def _ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ProductSystemError(Reason.MALFORMED, f"invalid id {str(value)[:80]!r} (letters, digits, ._/:+#-)", where)
    return value


def _gas(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _GAS.match(value):
        raise ProductSystemError(Reason.MALFORMED, f"invalid gas name {str(value)[:40]!r}", where)
    return value


def _gas_key(key: Any, where: str, explicit: bool = False) -> tuple[str, Origin | None]:
    """`CO2` (fossil; with `explicit`, None: every origin) or `CO2/biogenic`, `CO2/luluc`, `CH4/fossil`."""
    text = key if isinstance(key, str) else ""
    gas, _, origin = text.partition("/")
    if not origin and explicit:
        return _gas(gas, where), None
    return _gas(gas, where), _enum(Origin, origin or "fossil", f"{where}.{key}")


class _Declared(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=Enum)
D = TypeVar("D", bound=_Declared)


def _enum(kind: type[E], value: Any, where: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ProductSystemError(Reason.MALFORMED, f"{str(value)[:40]!r} is not one of: {allowed}", where) from None


def _unique(items: Iterable[D], what: str) -> dict[str, D]:
    out: dict[str, D] = {}
    for item in items:
        if item.id in out:
            raise ProductSystemError(Reason.DUPLICATE_ID, f"{item.id!r} declared twice", f"$.{what}")
        out[item.id] = item
    return out
