"""Solve A s = f for every product at once and split the results into EN 15804 modules.

A is factorised once (SuperLU). Cumulative flows per unit of every product come from ONE
transposed solve with one right-hand side per flow: X = (B A^-1)^T, i.e. A^T X = B^T.
Module split (per unit of product j, gate = the virtual process making j, run d_j = (A^-1)_jj times):
A3 = d_j x (direct emissions + energy/ancillary/waste/other background inputs of the gate),
A2 = d_j x (transport inputs of the gate), A1 = total - A2 - A3 (all upstream, raw materials).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from .errors import ProductSystemError, Reason
from .matrices import CompiledSystem

_CHUNK = 256


def factorise(A: sp.csc_matrix):
    """SuperLU factors of A; SINGULAR_SYSTEM when A has no inverse."""
    if A.shape[0] == 0:
        raise ProductSystemError(Reason.SINGULAR_SYSTEM, "the product system is empty")
    try:
        return splu(A.tocsc(), permc_spec="COLAMD")
    except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
        raise ProductSystemError(Reason.SINGULAR_SYSTEM, f"technosphere matrix is singular ({exc})") from None


def inverse_diagonal(A: sp.csc_matrix) -> np.ndarray:
    """diag(A^-1), checking A^-1 >= 0 (every loop returns less than it takes).

    A closed walk through j stays inside j's strongly connected component, so (A^-1)_jj is
    1/A_jj outside cycles and comes from the component's own block inside one. A has
    off-diagonal entries <= 0, so A^-1 >= 0 exactly when each cyclic block's inverse is >= 0.
    """
    n = A.shape[0]
    diag = A.diagonal()
    d = 1.0 / diag
    off = (A - sp.diags(diag)).tocsr()
    off.eliminate_zeros()
    n_comp, labels = connected_components(off, directed=True, connection="strong")
    if n_comp == n:
        return d
    sizes = np.bincount(labels)
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for comp in np.flatnonzero(sizes > 1):
        members = order[starts[comp]:starts[comp + 1]]
        block = A[members][:, members].tocsc()
        lu = factorise(block)
        m = len(members)
        for lo in range(0, m, _CHUNK):
            hi = min(m, lo + _CHUNK)
            rhs = np.zeros((m, hi - lo))
            rhs[np.arange(lo, hi), np.arange(hi - lo)] = 1.0
            inv = lu.solve(rhs)
            if not np.all(np.isfinite(inv)):
                raise ProductSystemError(Reason.SINGULAR_SYSTEM, "a recycling loop makes the system singular")
            if inv.min() < -1e-9 * max(1.0, np.abs(inv).max()):
                raise ProductSystemError(Reason.NEGATIVE_NET_OUTPUT,
                                         "a loop returns at least as much as it takes (net output <= 0)")
            d[members[lo:hi]] = inv[np.arange(lo, hi), np.arange(hi - lo)]
    return d


@dataclass
class SystemResults:
    """Per unit of each row (product unit): flows X (rows x flows) and GWP by origin (rows x 3)."""

    compiled: CompiledSystem
    lu: object
    X: np.ndarray
    impacts: np.ndarray  # fossil, biogenic, luluc
    a2: np.ndarray
    a3: np.ndarray
    d: np.ndarray

    def scaling(self, row: int, amount: float = 1.0) -> np.ndarray:
        """Runs of every virtual process to make `amount` of row `row` (one forward solve)."""
        f = np.zeros(self.compiled.A.shape[0])
        f[row] = amount
        return self.lu.solve(f)


def gate_modules(cs: CompiledSystem, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A2 and A3 per unit of every row, shape (rows x 3)."""
    cb_transport = (sp.diags(cs.transport_mask.astype(float)) @ cs.B).T @ cs.C.T
    cb_gate = (sp.diags(cs.gate_mask.astype(float)) @ cs.B).T @ cs.C.T
    return np.asarray(cb_transport) * d[:, None], np.asarray(cb_gate) * d[:, None]


def solve_system(cs: CompiledSystem) -> SystemResults:
    """Factorise once and compute every product's cumulative flows and GWP."""
    lu = factorise(cs.A)
    d = inverse_diagonal(cs.A)
    X = lu.solve(np.ascontiguousarray(cs.B.T.toarray()), trans="T")
    if not np.all(np.isfinite(X)):
        raise ProductSystemError(Reason.SINGULAR_SYSTEM, "the solution is not finite (ill-conditioned system)")
    a2, a3 = gate_modules(cs, d)
    return SystemResults(cs, lu, X, X @ cs.C.T, a2, a3, d)
