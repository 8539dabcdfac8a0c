"""Build the technosphere matrix A, the intervention matrix B and the characterisation matrices.

Rows of A are reference flows: one per product, plus one per producer ("P@process") when several
processes supply a product through a declared supply mix. Column i of A is the single-output
(virtual) process that makes row i: a multi-output process becomes one virtual process per output
(see allocation.py), a supply mix becomes a market column. Off-diagonal entries are inputs (<= 0).
Rows of B are flows: background activities (in their own unit) then direct gas flows (kg).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .allocation import AllocationRecord, allocation_factors, allocation_record
from .errors import ProductSystemError, Reason
from .model import Category, Origin, Process, ProductSystem
from .units import conversion_factor

ORIGINS = (Origin.FOSSIL, Origin.BIOGENIC, Origin.LULUC)


def gas_key(gas: str, origin: Origin) -> str:
    return gas if origin is Origin.FOSSIL else f"{gas}/{origin.value}"


@dataclass(frozen=True)
class ColumnEntries:
    column: int
    a: dict[int, float]  # row -> amount (diagonal = net output)
    b: dict[int, float]  # flow -> amount
    gross: float = 1.0  # output per run before own use (the diagonal of A is net of it)


@dataclass
class CompiledSystem:
    system: ProductSystem
    rows: list[str]
    row_index: dict[str, int]
    row_unit: list[str]
    row_product: list[str]  # the declared product behind each row
    columns: list[str]  # column i makes row i
    process_columns: dict[str, list[int]]
    flows: list[str]
    flow_index: dict[str, int]
    flow_unit: list[str]
    n_background: int
    A: sp.csc_matrix
    B: sp.csc_matrix
    gross: np.ndarray  # per column: output per run before own use (A's diagonal is net of own use)
    C: np.ndarray  # (3 origins x flows), kg CO2e per flow unit
    G: sp.csr_matrix  # (gas keys x flows), kg gas per flow unit
    gas_keys: list[str]
    transport_mask: np.ndarray  # flows counted in A2 when the gate process uses them
    gate_mask: np.ndarray  # flows counted in A3 when the gate process uses them
    allocations: dict[str, AllocationRecord]


def compile_system(system: ProductSystem) -> CompiledSystem:
    producers: dict[str, list[str]] = {p: [] for p in system.products}
    for proc in system.processes.values():
        for o in proc.outputs:
            if o.product not in producers:
                raise ProductSystemError(
                    Reason.UNKNOWN_REFERENCE, f"output product {o.product!r} is not declared", f"process {proc.id}"
                )
            producers[o.product].append(proc.id)
    rows, row_product, markets = [], [], {}
    for pid, makers in producers.items():
        product = system.products[pid]
        if not makers:
            raise ProductSystemError(Reason.NO_PRODUCER, f"no process makes product {pid!r}", f"product {pid}")
        if len(makers) == 1 and not product.supply_mix:
            rows.append(pid)
            row_product.append(pid)
            continue
        if not product.supply_mix:
            raise ProductSystemError(
                Reason.AMBIGUOUS_PRODUCER,
                f"{len(makers)} processes make {pid!r}; declare a supply_mix",
                f"product {pid}",
            )
        if set(product.supply_mix) != set(makers):
            raise ProductSystemError(
                Reason.UNKNOWN_REFERENCE,
                f"supply_mix must name exactly the producers {sorted(makers)}",
                f"product {pid}",
            )
        total = float(sum(product.supply_mix.values()))
        if abs(total - 1.0) > 1e-9:
            raise ProductSystemError(
                Reason.ALLOCATION_SUM, f"supply_mix shares sum to {total!r}, not 1", f"product {pid}"
            )
        markets[pid] = makers
        rows.append(pid)
        row_product.append(pid)
        for maker in makers:
            rows.append(f"{pid}@{maker}")
            row_product.append(pid)
    row_index = {r: i for i, r in enumerate(rows)}
    gases = sorted(system.gwp.gases())
    gas_keys = [gas_key(g, o) for g in gases for o in ORIGINS]
    flows = list(system.background) + gas_keys
    flow_unit = [b.unit for b in system.background.values()] + ["kg"] * len(gas_keys)
    cs = CompiledSystem(
        system=system,
        rows=rows,
        row_index=row_index,
        row_unit=[system.products[p].unit for p in row_product],
        row_product=row_product,
        columns=[""] * len(rows),
        process_columns={},
        flows=flows,
        flow_index={f: i for i, f in enumerate(flows)},
        flow_unit=flow_unit,
        n_background=len(system.background),
        A=sp.csc_matrix((len(rows), len(rows))),
        B=sp.csc_matrix((len(flows), len(rows))),
        gross=np.ones(len(rows)),
        C=np.zeros((3, len(flows))),
        G=sp.csr_matrix((len(gas_keys), len(flows))),
        gas_keys=gas_keys,
        transport_mask=np.zeros(len(flows), bool),
        gate_mask=np.zeros(len(flows), bool),
        allocations={},
    )
    _characterise(cs)
    entries: list[ColumnEntries] = []
    for proc in system.processes.values():
        entries.extend(process_columns(cs, proc))
    for pid, makers in markets.items():
        col = row_index[pid]
        cs.columns[col] = f"market:{pid}"
        a = {col: 1.0}
        for maker in makers:
            a[row_index[f"{pid}@{maker}"]] = -float(system.products[pid].supply_mix[maker])
        entries.append(ColumnEntries(col, a, {}))
    for e in entries:
        cs.gross[e.column] = e.gross
    cs.A = _assemble(entries, "a", (len(rows), len(rows)))
    cs.B = _assemble(entries, "b", (len(flows), len(rows)))
    return cs


def process_columns(cs: CompiledSystem, proc: Process) -> list[ColumnEntries]:
    """The virtual columns of one process (also used to replace a process's inventory live)."""
    system, where = cs.system, f"process {proc.id}"
    factors = allocation_factors(proc, system.products)
    if len(proc.outputs) > 1:
        cs.allocations[proc.id] = allocation_record(proc, factors)
    inputs_a: dict[int, float] = {}
    inputs_b: dict[int, float] = {}
    for x in proc.inputs:
        if x.is_product:
            if x.ref not in system.products:
                raise ProductSystemError(Reason.UNKNOWN_REFERENCE, f"input product {x.ref!r} is not declared", where)
            row = cs.row_index[x.ref]
            inputs_a[row] = inputs_a.get(row, 0.0) + float(x.amount) * conversion_factor(
                x.unit, cs.row_unit[row], f"{where} input {x.ref}"
            )
        else:
            flow = cs.flow_index.get(x.ref)
            if flow is None or flow >= cs.n_background:
                raise ProductSystemError(Reason.MISSING_FACTOR, f"no background factor for activity {x.ref!r}", where)
            inputs_b[flow] = inputs_b.get(flow, 0.0) + float(x.amount) * conversion_factor(
                x.unit, cs.flow_unit[flow], f"{where} input {x.ref}"
            )
    for e in proc.emissions:
        if system.gwp.factor(e.gas, e.origin) is None:
            raise ProductSystemError(
                Reason.MISSING_FACTOR, f"no GWP for {gas_key(e.gas, e.origin)!r} in {system.gwp.name}", where
            )
        flow = cs.flow_index[gas_key(e.gas, e.origin)]
        inputs_b[flow] = inputs_b.get(flow, 0.0) + float(e.amount) * conversion_factor(
            e.unit, "kg", f"{where} emission {e.gas}"
        )
    out = []
    cols = []
    for o in proc.outputs:
        mixed = f"{o.product}@{proc.id}"
        col = cs.row_index[mixed if mixed in cs.row_index else o.product]
        f = factors[o.product]
        a = {r: -f * v for r, v in inputs_a.items()}
        gross = float(o.amount) * conversion_factor(o.unit, cs.row_unit[col], f"{where} output {o.product}")
        a[col] = a.get(col, 0.0) + gross
        if a[col] <= 0:
            raise ProductSystemError(
                Reason.NEGATIVE_NET_OUTPUT, f"consumes at least as much {o.product!r} as it makes", where
            )
        cs.columns[col] = proc.id if len(proc.outputs) == 1 else f"{proc.id}[{o.product}]"
        out.append(ColumnEntries(col, a, {k: f * v for k, v in inputs_b.items()}, gross))
        cols.append(col)
    cs.process_columns[proc.id] = cols
    return out


def _characterise(cs: CompiledSystem) -> None:
    gwp = cs.system.gwp
    origin_row = {o: i for i, o in enumerate(ORIGINS)}
    g_rows, g_cols, g_vals = [], [], []
    gas_row = {k: i for i, k in enumerate(cs.gas_keys)}
    for i, bg in enumerate(cs.system.background.values()):
        cs.transport_mask[i] = bg.category is Category.TRANSPORT
        cs.gate_mask[i] = bg.category not in (Category.TRANSPORT, Category.MATERIAL)
        for gf in bg.emissions:
            factor = gwp.factor(gf.gas, gf.origin)
            if factor is None:
                raise ProductSystemError(
                    Reason.MISSING_FACTOR,
                    f"no GWP for {gas_key(gf.gas, gf.origin)!r} in {gwp.name}",
                    f"background {bg.id}",
                )
            cs.C[origin_row[gf.origin], i] += float(gf.amount) * float(factor)
            g_rows.append(gas_row[gas_key(gf.gas, gf.origin)])
            g_cols.append(i)
            g_vals.append(float(gf.amount))
    for k, key in enumerate(cs.gas_keys):
        flow = cs.n_background + k
        gas, _, origin = key.partition("/")
        # None for an origin the set has no value for (a table with only `CH4/fossil`): such a flow
        # gets no factor, and an emission of it is refused in process_columns.
        factor = gwp.factor(gas, Origin(origin or "fossil"))
        cs.C[origin_row[Origin(origin or "fossil")], flow] = float(factor) if factor is not None else 0.0
        cs.gate_mask[flow] = True
        g_rows.append(k)
        g_cols.append(flow)
        g_vals.append(1.0)
    cs.G = sp.csr_matrix((g_vals, (g_rows, g_cols)), shape=(len(cs.gas_keys), len(cs.flows)))


def _assemble(entries: list[ColumnEntries], which: str, shape: tuple[int, int]) -> sp.csc_matrix:
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for e in entries:
        d = e.a if which == "a" else e.b
        rows.extend(d.keys())
        cols.extend([e.column] * len(d))
        vals.extend(d.values())
    return sp.csc_matrix(
        (np.asarray(vals, np.float64), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))), shape=shape
    )
