"""Live inventories: replace one process's inventory (from telemetry), re-solve, and name the
products whose footprints changed.

If only background inputs and emissions change (B), the factorisation is reused: the change to
every product's flows is ΔX = Y ΔB_p^T with Y = rows p of A^-1, one transposed solve per virtual
column of p. If product inputs or outputs change (A), A is re-factorised and re-solved.
`downstream` gives the structural answer: products reachable from p in the product graph.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from .errors import ProductSystemError, Reason
from .matrices import ColumnEntries, CompiledSystem, compile_system, process_columns
from .model import Process, ProductSystem
from .solve import SystemResults, gate_modules, solve_system


@dataclass(frozen=True)
class ChangeSet:
    process: str
    changed: frozenset[str]  # rows whose GWP moved beyond the tolerance
    refactorised: bool


class LiveSystem:
    """A solved product system that accepts inventory overrides."""

    def __init__(self, system: ProductSystem, rtol: float = 1e-12) -> None:
        self.compiled: CompiledSystem = compile_system(system)
        self.results: SystemResults = solve_system(self.compiled)
        self.rtol = rtol
        self._graph: sp.csr_matrix | None = None

    def downstream(self, process_id: str) -> frozenset[str]:
        """Rows whose footprint depends on `process_id` (its own rows and everything they feed)."""
        cs = self.compiled
        cols = self._columns(process_id)
        if self._graph is None:
            off = (cs.A - sp.diags(cs.A.diagonal())).tocsr()
            off.eliminate_zeros()
            self._graph = off  # edge r -> c: row r is an input of column c (which makes row c)
        seen = np.zeros(cs.A.shape[0], bool)
        for c in cols:
            if not seen[c]:
                seen[breadth_first_order(self._graph, c, directed=True, return_predecessors=False)] = True
        return frozenset(cs.rows[i] for i in np.flatnonzero(seen))

    def replace_process(self, process: Process) -> ChangeSet:
        """Swap in a new inventory for an existing process (same id and output products)."""
        cs, res = self.compiled, self.results
        old = cs.system.processes.get(process.id)
        if old is None:
            raise ProductSystemError(Reason.UNKNOWN_REFERENCE, f"unknown process {process.id!r}")
        if {o.product for o in old.outputs} != {o.product for o in process.outputs}:
            raise ProductSystemError(
                Reason.MALFORMED, "a live override must keep the same output products", f"process {process.id}"
            )
        saved_alloc = cs.allocations.get(process.id)
        try:
            entries = process_columns(cs, process)  # validates before anything changes
            cols = [e.column for e in entries]
            delta_a = _columns_matrix(entries, "a", cs.A.shape[0], cols) - cs.A[:, cols]
            delta_b = _columns_matrix(entries, "b", cs.B.shape[0], cols) - cs.B[:, cols]
            system = dataclasses.replace(cs.system, processes={**cs.system.processes, process.id: process})
            gross = cs.gross.copy()
            for e in entries:
                gross[e.column] = e.gross
            B = (cs.B + _embed(delta_b, cols, cs.B.shape)).tocsc()
            solved = None
            if delta_a.count_nonzero():
                A = (cs.A + _embed(delta_a, cols, cs.A.shape)).tocsc()
                solved = solve_system(dataclasses.replace(cs, A=A, B=B, system=system, gross=gross))
        except ProductSystemError:
            if saved_alloc is not None:
                cs.allocations[process.id] = saved_alloc
            raise
        if solved is None:
            cs.system, cs.B, cs.gross = system, B, gross
            changed = self._update_background(cols, delta_b.toarray())
            res.a2, res.a3 = gate_modules(cs, res.d)
            return ChangeSet(process.id, changed, refactorised=False)
        self.compiled, self.results, self._graph = solved.compiled, solved, None
        changed = self._moved(np.arange(len(cs.rows)), res.impacts, solved.impacts)
        return ChangeSet(process.id, changed, refactorised=True)

    def _update_background(self, cols: list[int], delta_b: np.ndarray) -> frozenset[str]:
        res = self.results
        rhs = np.zeros((res.X.shape[0], len(cols)))
        rhs[cols, np.arange(len(cols))] = 1.0
        Y = res.lu.solve(rhs, trans="T")  # Y[:, k] = row cols[k] of A^-1
        touched = np.flatnonzero(np.any(Y != 0.0, axis=1))
        before = res.impacts[touched].copy()
        res.X[touched] += Y[touched] @ delta_b.T
        res.impacts[touched] = res.X[touched] @ self.compiled.C.T
        return self._moved(touched, before, res.impacts[touched])

    def _moved(self, rows: np.ndarray, before: np.ndarray, after: np.ndarray) -> frozenset[str]:
        return frozenset(self.compiled.rows[rows[i]] for i in np.flatnonzero(moved_mask(before, after, self.rtol)))

    def _columns(self, process_id: str) -> list[int]:
        cols = self.compiled.process_columns.get(process_id)
        if cols is None:
            raise ProductSystemError(Reason.UNKNOWN_REFERENCE, f"unknown process {process_id!r}")
        return cols


def moved_mask(before: np.ndarray, after: np.ndarray, rtol: float) -> np.ndarray:
    scale = np.maximum(np.abs(before).max(axis=1), np.abs(after).max(axis=1))
    mask: np.ndarray = np.abs(after - before).max(axis=1) > rtol * np.maximum(scale, 1e-12)
    return mask


def _columns_matrix(entries: list[ColumnEntries], which: str, n_rows: int, cols: list[int]) -> sp.csc_matrix:
    rows: list[int] = []
    idx: list[int] = []
    vals: list[float] = []
    for k, e in enumerate(entries):
        d = e.a if which == "a" else e.b
        rows.extend(d.keys())
        idx.extend([k] * len(d))
        vals.extend(d.values())
    return sp.csc_matrix((vals, (rows, idx)), shape=(n_rows, len(cols)))


def _embed(block: sp.spmatrix, cols: list[int], shape: tuple[int, int]) -> sp.csc_matrix:
    coo = block.tocoo()
    return sp.csc_matrix((coo.data, (coo.row, np.asarray(cols)[coo.col])), shape=shape)
