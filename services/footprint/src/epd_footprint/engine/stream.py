"""Every product's footprint from one factorisation, in blocks, written as it is computed.

A detailed report lists the runs of every process a product uses, so the reports of all products
together grow with the square of the system. They are never held at once: the scaling vectors of
`BLOCK` products come from one solve with `BLOCK` right-hand sides, each report is built (or
written as JSON) and dropped before the next block. Memory stays at n x BLOCK floats.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np

from .model import ProductSystem
from .results import ProductFootprint, declared_factor, detailed, footprint_json, row_of, summary
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


def iter_footprint_json(
    res: SystemResults, products: list[str], detail: bool = True, block: int = BLOCK
) -> Iterator[dict[str, Any]]:
    """`iter_footprints(...)` as JSON-ready dicts, built without intermediate Decimals."""
    if not detail:
        for p in products:
            yield summary(res, p, row_of(res, p)).as_dict()
        return
    for product, row, runs, amount in _blocks(res, products, block):
        yield footprint_json(res, product, row, runs, amount)


def write_json(
    out: TextIO, system: ProductSystem, res: SystemResults, products: list[str], detail: bool = True
) -> None:
    """The `epd footprint compute --json` document, written product by product."""
    head = {"system": system.name, "gwp_set": system.gwp.name, "gwp_source": system.gwp.source}
    out.write(json.dumps(head)[:-1] + ', "footprints": [')
    for i, item in enumerate(iter_footprint_json(res, products, detail)):
        out.write(("\n" if i == 0 else ",\n") + json.dumps(item))
    out.write("\n]}\n")
