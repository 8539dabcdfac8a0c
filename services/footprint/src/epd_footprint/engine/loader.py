"""Read the documented YAML/JSON product-system format (docs/product-system-format.md) into the model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from . import fields as f
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
    doc = f.mapping(
        data, "$", required={"format", "gwp", "products", "processes"}, optional={"name", "background", "description"}
    )
    if doc["format"] != FORMAT_ID:
        raise ProductSystemError(Reason.MALFORMED, f"format must be {FORMAT_ID!r}", "$.format")
    products = f.unique(
        [parse_product(p, f"$.products[{i}]") for i, p in enumerate(f.list_of(doc["products"], "$.products"))],
        "products",
    )
    background = f.unique(
        [
            parse_background(b, f"$.background[{i}]")
            for i, b in enumerate(f.list_of(doc.get("background", []), "$.background"))
        ],
        "background",
    )
    processes = f.unique(
        [parse_process(p, f"$.processes[{i}]") for i, p in enumerate(f.list_of(doc["processes"], "$.processes"))],
        "processes",
    )
    return ProductSystem(
        name=f.text(doc.get("name", ""), "$.name", allow_empty=True),
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
    doc = f.mapping(data, where, required={"name", "source", "factors"}, optional={"basis"})
    factors = f.mapping(doc["factors"], f"{where}.factors")
    table = {}
    for key, value in factors.items():
        gas, origin = f.gas_key(key, f"{where}.factors", explicit=True)
        table[gas if origin is None else f"{gas}/{origin.value}"] = parse_decimal(
            value, f"{where}.factors.{key}", sign="positive"
        )
    name = f.text(doc["name"], f"{where}.name")
    return GwpSet(
        name=name,
        source=f.text(doc["source"], f"{where}.source"),
        factors=table,
        basis=f.text(doc["basis"], f"{where}.basis") if "basis" in doc else name,
    )


def parse_product(data: Any, where: str) -> Product:
    doc = f.mapping(
        data, where, required={"id", "unit"}, optional={"name", "declared_unit", "classification", "supply_mix"}
    )
    unit = check_unit(doc["unit"], f"{where}.unit")
    declared = f.mapping(
        doc.get("declared_unit", {"amount": 1, "unit": unit}), f"{where}.declared_unit", required={"amount", "unit"}
    )
    return Product(
        id=f.ident(doc["id"], f"{where}.id"),
        unit=unit,
        declared_amount=parse_decimal(declared["amount"], f"{where}.declared_unit.amount", sign="positive"),
        declared_unit=check_unit(declared["unit"], f"{where}.declared_unit.unit"),
        name=f.text(doc.get("name", ""), f"{where}.name", allow_empty=True),
        classification=f.text(doc["classification"], f"{where}.classification") if "classification" in doc else None,
        supply_mix={
            f.ident(k, f"{where}.supply_mix"): parse_decimal(v, f"{where}.supply_mix.{k}", sign="nonnegative")
            for k, v in f.mapping(doc.get("supply_mix", {}), f"{where}.supply_mix").items()
        },
    )


def parse_background(data: Any, where: str) -> BackgroundActivity:
    doc = f.mapping(
        data, where, required={"id", "unit", "category", "emissions"}, optional={"name", "source", "default"}
    )
    emissions = []
    for key, value in f.mapping(doc["emissions"], f"{where}.emissions").items():
        gas, origin = f.gas_key(key, f"{where}.emissions")
        assert origin is not None
        # Only biogenic flows may be negative (uptake); everything else is an emission.
        sign = "any" if origin is Origin.BIOGENIC else "nonnegative"
        emissions.append(GasFactor(gas, origin, parse_decimal(value, f"{where}.emissions.{key}", sign=sign)))
    source = f.text(doc["source"], f"{where}.source") if doc.get("source") is not None else None
    default = doc.get("default", False)
    if not isinstance(default, bool):
        raise ProductSystemError(Reason.MALFORMED, "default must be true or false", f"{where}.default")
    if source is None and not default:
        raise ProductSystemError(Reason.MISSING_SOURCE, "a background factor needs a source or `default: true`", where)
    return BackgroundActivity(
        id=f.ident(doc["id"], f"{where}.id"),
        unit=check_unit(doc["unit"], f"{where}.unit"),
        category=f.enum(Category, doc["category"], f"{where}.category"),
        emissions=tuple(emissions),
        source=source,
        default=default,
        name=f.text(doc.get("name", ""), f"{where}.name", allow_empty=True),
    )


def parse_process(data: Any, where: str) -> Process:
    """Parse one process; also used for live inventory overrides."""
    doc = f.mapping(
        data, where, required={"id", "outputs"}, optional={"name", "plant", "inputs", "emissions", "allocation"}
    )
    outputs = tuple(
        _output(o, f"{where}.outputs[{i}]") for i, o in enumerate(f.list_of(doc["outputs"], f"{where}.outputs"))
    )
    if not outputs:
        raise ProductSystemError(Reason.MALFORMED, "a process needs at least one output", f"{where}.outputs")
    if len({o.product for o in outputs}) != len(outputs):
        raise ProductSystemError(Reason.DUPLICATE_ID, "a product appears twice among the outputs", f"{where}.outputs")
    allocation = _allocation(doc.get("allocation"), len(outputs), f"{where}.allocation")
    return Process(
        id=f.ident(doc["id"], f"{where}.id"),
        outputs=outputs,
        inputs=tuple(
            _input(x, f"{where}.inputs[{i}]") for i, x in enumerate(f.list_of(doc.get("inputs", []), f"{where}.inputs"))
        ),
        emissions=tuple(
            _emission(e, f"{where}.emissions[{i}]")
            for i, e in enumerate(f.list_of(doc.get("emissions", []), f"{where}.emissions"))
        ),
        allocation=allocation,
        name=f.text(doc.get("name", ""), f"{where}.name", allow_empty=True),
        plant=f.text(doc["plant"], f"{where}.plant") if doc.get("plant") is not None else None,
    )


def _output(data: Any, where: str) -> Output:
    doc = f.mapping(data, where, required={"product", "amount", "unit"})
    return Output(
        f.ident(doc["product"], f"{where}.product"),
        parse_decimal(doc["amount"], f"{where}.amount", sign="positive"),
        check_unit(doc["unit"], f"{where}.unit"),
    )


def _input(data: Any, where: str) -> Exchange:
    doc = f.mapping(data, where, required={"amount", "unit"}, optional={"product", "activity"})
    if ("product" in doc) == ("activity" in doc):
        raise ProductSystemError(Reason.MALFORMED, "an input names exactly one of `product` or `activity`", where)
    key = "product" if "product" in doc else "activity"
    return Exchange(
        f.ident(doc[key], f"{where}.{key}"),
        key == "product",
        parse_decimal(doc["amount"], f"{where}.amount", sign="nonnegative"),
        check_unit(doc["unit"], f"{where}.unit"),
    )


def _emission(data: Any, where: str) -> Emission:
    doc = f.mapping(data, where, required={"gas", "amount", "unit"}, optional={"origin"})
    origin = f.enum(Origin, doc.get("origin", "fossil"), f"{where}.origin")
    sign = "any" if origin is Origin.BIOGENIC else "nonnegative"
    return Emission(
        f.gas(doc["gas"], f"{where}.gas"),
        origin,
        parse_decimal(doc["amount"], f"{where}.amount", sign=sign),
        check_unit(doc["unit"], f"{where}.unit"),
    )


def _allocation(data: Any, n_outputs: int, where: str) -> Allocation:
    if data is None:
        if n_outputs > 1:
            raise ProductSystemError(Reason.MALFORMED, "a multi-output process needs an allocation", where)
        return Allocation(AllocationMethod.NONE)
    doc = f.mapping(data, where, required={"method"}, optional={"factors", "prices", "price_basis", "period"})
    method = f.enum(AllocationMethod, doc["method"], f"{where}.method")
    factors = {
        f.ident(k, f"{where}.factors"): parse_decimal(v, f"{where}.factors.{k}", sign="nonnegative")
        for k, v in f.mapping(doc.get("factors", {}), f"{where}.factors").items()
    }
    prices = {}
    for key, value in f.mapping(doc.get("prices", {}), f"{where}.prices").items():
        p = f.mapping(value, f"{where}.prices.{key}", required={"amount", "currency", "unit"})
        prices[f.ident(key, f"{where}.prices")] = Price(
            parse_decimal(p["amount"], f"{where}.prices.{key}.amount", sign="nonnegative"),
            f.text(p["currency"], f"{where}.prices.{key}.currency"),
            check_unit(p["unit"], f"{where}.prices.{key}.unit"),
        )
    if method is AllocationMethod.ECONOMIC and not (doc.get("price_basis") and doc.get("period")):
        raise ProductSystemError(Reason.MISSING_FACTOR, "economic allocation needs `price_basis` and `period`", where)
    return Allocation(
        method,
        factors,
        prices,
        f.text(doc["price_basis"], f"{where}.price_basis") if doc.get("price_basis") else None,
        f.text(doc["period"], f"{where}.period") if doc.get("period") else None,
    )
