"""Every product's footprint from one factorisation, in blocks, written as it is computed.

A detailed report lists the runs of every process a product uses, so the reports of all products
together grow with the square of the system. They are never held at once: the scaling vectors of
`BLOCK` products come from one solve with `BLOCK` right-hand sides, each report is built (or
written as JSON) and dropped before the next block. Memory stays at n x BLOCK floats.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

import numpy as np

from .errors import ProductSystemError, Reason
from .matrices import CompiledSystem
from .model import ProductSystem
from .results import _ZERO, ProductFootprint, declared_factor, detailed, row_of, summary, unchecked_gwp
from .solve import SystemResults

BLOCK = 256


def _blocks(res: SystemResults, products: list[str], block: int) -> Iterator[tuple[str, int, np.ndarray, float]]:
    for lo in range(0, len(products), block):
        chunk = products[lo : lo + block]
        rows = np.array([row_of(res, p) for p in chunk], dtype=np.int64)
        amounts = np.array([declared_factor(res.compiled, int(r)) for r in rows])
        runs = res.scaling_block(rows, amounts)
        for k, product in enumerate(chunk):
            yield product, int(rows[k]), runs[:, k], float(amounts[k])


def iter_footprints(
    res: SystemResults, products: list[str], detail: bool = True, block: int = BLOCK
) -> Iterator[ProductFootprint]:
    """Footprints of `products` in order; with `detail`, scaling vectors solved `block` at a time."""
    if not detail:
        for p in products:
            yield summary(res, p, row_of(res, p))
        return
    for product, row, runs, amount in _blocks(res, products, block):
        yield detailed(res, product, row, runs, amount)


def texts(values: np.ndarray, digits: int) -> list[str]:
    """Fixed-point decimal text of each value at `digits` significant digits (numbers.float_text,
    vectorised through the C decimal module)."""
    fmt = f".{max(1, min(digits, 12))}g"
    out = [format(Decimal(format(x, fmt)), "f") for x in values.tolist()]
    return [("0" if t == "-0" else t) for t in out]


@dataclass(frozen=True)
class Names:
    """JSON-escaped names of a compiled system, computed once for all its reports."""

    columns: list[str]
    rows: list[str]
    row_units: list[str]
    flows: list[str]
    flow_units: list[str]
    gases: list[str]

    @classmethod
    def of(cls, cs: CompiledSystem) -> Names:
        def esc(items: list[str]) -> list[str]:
            return [json.dumps(x) for x in items]

        return cls(esc(cs.columns), esc(cs.rows), esc(cs.row_unit), esc(cs.flows), esc(cs.flow_unit), esc(cs.gas_keys))


def _object(pairs: list[str]) -> str:
    return "{" + ", ".join(pairs) + "}"


def footprint_text(res: SystemResults, product: str, row: int, s: np.ndarray, q: float, names: Names) -> str:
    """`detailed(...).as_dict()` as JSON text, written without building its maps as Python objects."""
    cs, n = res.compiled, res.digits
    if s.min() < -1e-9 * max(1.0, np.abs(s).max()):
        raise ProductSystemError(Reason.NEGATIVE_NET_OUTPUT, f"negative scaling for {product!r}")
    head = summary(res, product, row).as_dict()
    used = np.flatnonzero(np.abs(s) > _ZERO)
    runs = texts(s[used], n)
    gross = texts(cs.gross[used] * s[used], n)
    net = texts(cs.A.diagonal()[used] * s[used], n)
    scaling = [f'{names.columns[i]}: "{t}"' for i, t in zip(used, runs, strict=True)]
    outputs = [
        f'{names.rows[i]}: {{"gross": "{g}", "unit": {names.row_units[i]}' + (f', "net": "{m}"}}' if m != g else "}")
        for i, g, m in zip(used, gross, net, strict=True)
    ]
    flows = res.X[row] * q
    bg = np.flatnonzero(np.abs(flows[: cs.n_background]) > _ZERO)
    background = [
        f'{names.flows[i]}: {{"amount": "{t}", "unit": {names.flow_units[i]}}}'
        for i, t in zip(bg, texts(flows[bg], n), strict=True)
    ]
    head["default_factors"] = [cs.flows[i] for i in bg if cs.system.background[cs.flows[i]].default]
    gas_amounts = cs.G @ flows
    present = np.flatnonzero(np.abs(gas_amounts) > _ZERO)
    emissions = [
        f'{names.gases[i]}: {{"amount": "{t}", "unit": "kg"}}'
        for i, t in zip(present, texts(gas_amounts[present], n), strict=True)
    ]
    head["unchecked_gwp"] = unchecked_gwp(cs, [cs.gas_keys[i] for i in present])
    used_processes = {cs.columns[i].split("[", 1)[0] for i in used}
    head["allocations"] = [rec.as_dict() for pid, rec in cs.allocations.items() if pid in used_processes]
    maps = {"scaling": scaling, "outputs": outputs, "background": background, "emissions": emissions}
    for key in maps:
        head.pop(key, None)
    text = json.dumps(head)[:-1]
    return text + "".join(f', "{key}": {_object(pairs)}' for key, pairs in maps.items()) + "}"


def iter_footprint_json(
    res: SystemResults, products: list[str], detail: bool = True, block: int = BLOCK
) -> Iterator[str]:
    """`iter_footprints(...)` as JSON text, one product at a time."""
    if not detail:
        for p in products:
            yield json.dumps(summary(res, p, row_of(res, p)).as_dict())
        return
    names = Names.of(res.compiled)
    for product, row, runs, amount in _blocks(res, products, block):
        yield footprint_text(res, product, row, runs, amount, names)


def write_json(
    out: TextIO, system: ProductSystem, res: SystemResults, products: list[str], detail: bool = True
) -> None:
    """The `epd footprint compute --json` document, written product by product."""
    head = {"system": system.name, "gwp_set": system.gwp.name, "gwp_source": system.gwp.source}
    out.write(json.dumps(head)[:-1] + ', "footprints": [')
    for i, item in enumerate(iter_footprint_json(res, products, detail)):
        out.write(("\n" if i == 0 else ",\n") + item)
    out.write("\n]}\n")
