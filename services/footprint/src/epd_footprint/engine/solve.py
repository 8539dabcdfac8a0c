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
from scipy.sparse.linalg import LinearOperator, onenormest, splu

from .errors import ProductSystemError, Reason
from .matrices import CompiledSystem
from .numbers import SIGNIFICANT_DIGITS

_CHUNK = 256
EPSILON = float(np.finfo(np.float64).eps)  # unit roundoff of the solve (2.2e-16)
#: Above this condition estimate a result is marked: it supports at most 7 significant digits.
WARN_CONDITION = 1e8


class Factor:
    """LU of A after a symmetric permutation into topological order of its strongly connected
    components: A is then block triangular and SuperLU (natural order) fills in only inside loops.
    (COLAMD on the unordered matrix gave ~30x more fill on generated 10k-product chains.)"""

    def __init__(self, A: sp.csc_matrix, perm: np.ndarray) -> None:
        self.perm = perm
        try:
            self.lu = splu(A[perm][:, perm].tocsc(), permc_spec="NATURAL", diag_pivot_thresh=1.0)
        except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
            raise ProductSystemError(Reason.SINGULAR_SYSTEM, f"technosphere matrix is singular ({exc})") from None

    def solve(self, rhs: np.ndarray, trans: str = "N") -> np.ndarray:
        out = np.empty_like(rhs, dtype=float)
        out[self.perm] = self.lu.solve(np.ascontiguousarray(rhs[self.perm]), trans=trans)
        return out


def components(A: sp.csc_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Strong-component label per row and a topological order of the rows (inputs first)."""
    n = A.shape[0]
    off = (A - sp.diags(A.diagonal())).tocoo()
    mask = off.data != 0
    graph = sp.csr_matrix((np.ones(mask.sum()), (off.row[mask], off.col[mask])), shape=(n, n))
    n_comp, labels = connected_components(graph, directed=True, connection="strong")
    cond = sp.csr_matrix((np.ones(mask.sum()), (labels[off.row[mask]], labels[off.col[mask]])), shape=(n_comp, n_comp))
    cond.setdiag(0)
    cond.eliminate_zeros()
    indegree = np.diff(cond.tocsc().indptr)
    stack, rank, k = list(np.flatnonzero(indegree == 0)), np.empty(n_comp, np.int64), 0
    while stack:  # Kahn's algorithm on the condensation (a DAG)
        u = stack.pop()
        rank[u], k = k, k + 1
        for v in cond.indices[cond.indptr[u] : cond.indptr[u + 1]]:
            indegree[v] -= 1
            if indegree[v] == 0:
                stack.append(v)
    return labels, np.argsort(rank[labels], kind="stable")


def factorise(A: sp.csc_matrix, order: np.ndarray | None = None) -> Factor:
    """Factor of A; SINGULAR_SYSTEM when A has no inverse."""
    if A.shape[0] == 0:
        raise ProductSystemError(Reason.SINGULAR_SYSTEM, "the product system is empty")
    return Factor(A, components(A)[1] if order is None else order)


def inverse_diagonal(A: sp.csc_matrix, labels: np.ndarray | None = None) -> np.ndarray:
    """diag(A^-1), checking A^-1 >= 0 (every loop returns less than it takes).

    A closed walk through j stays inside j's strongly connected component, so (A^-1)_jj is
    1/A_jj outside cycles and comes from the component's own block inside one. A has
    off-diagonal entries <= 0, so A^-1 >= 0 exactly when each cyclic block's inverse is >= 0.
    """
    n = A.shape[0]
    d: np.ndarray = 1.0 / A.diagonal()  # scipy.sparse is untyped
    labels = components(A)[0] if labels is None else labels
    sizes = np.bincount(labels)
    if len(sizes) == n:
        return d
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for comp in np.flatnonzero(sizes > 1):
        members = order[starts[comp] : starts[comp + 1]]
        block = A[members][:, members].tocsc()
        m = len(members)
        lu = factorise(block, np.arange(m))
        for lo in range(0, m, _CHUNK):
            hi = min(m, lo + _CHUNK)
            rhs = np.zeros((m, hi - lo))
            rhs[np.arange(lo, hi), np.arange(hi - lo)] = 1.0
            inv = lu.solve(rhs)
            if not np.all(np.isfinite(inv)):
                raise ProductSystemError(Reason.SINGULAR_SYSTEM, "a recycling loop makes the system singular")
            if inv.min() < -1e-9 * max(1.0, np.abs(inv).max()):
                raise ProductSystemError(
                    Reason.NEGATIVE_NET_OUTPUT, "a loop returns at least as much as it takes (net output <= 0)"
                )
            d[members[lo:hi]] = inv[np.arange(lo, hi), np.arange(hi - lo)]
    return d


def condition_estimate(A: sp.csc_matrix, lu: Factor) -> float:
    """1-norm condition estimate of A with its columns scaled to a unit diagonal (A D^-1).

    The scaling removes what units and run sizes alone contribute (1000 kg per t is not a loss
    of accuracy); what remains is the loop gain: a loop that returns 1 - 1e-16 of what it takes has
    a condition of about 1e16. ||(A D^-1)^-1||_1 = ||D A^-1||_1 comes from Higham's estimator
    (scipy onenormest) with a few solves through the existing factorisation.
    """
    n = A.shape[0]
    d: np.ndarray = np.asarray(A.diagonal(), dtype=float)
    scaled_norm = float(abs(A @ sp.diags(1.0 / d)).sum(axis=0).max())

    def inverse(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = (lu.solve(x.reshape(n, -1)) * d[:, None]).reshape(x.shape)
        return out

    def inverse_t(y: np.ndarray) -> np.ndarray:
        return lu.solve(y.reshape(n, -1) * d[:, None], trans="T").reshape(y.shape)

    op = LinearOperator((n, n), matvec=inverse, rmatvec=inverse_t, matmat=inverse, rmatmat=inverse_t, dtype=float)
    estimate = scaled_norm * float(onenormest(op))
    return estimate if np.isfinite(estimate) else float("inf")


def supported_digits(condition: float) -> int:
    """Significant decimal digits a float64 solve supports at this condition (12 at most)."""
    if not np.isfinite(condition) or condition * EPSILON >= 1.0:
        return 0
    return int(min(SIGNIFICANT_DIGITS, np.floor(-np.log10(condition * EPSILON))))


def conditioning(A: sp.csc_matrix, lu: Factor) -> tuple[float, int, tuple[str, ...]]:
    """(condition estimate, supported digits, warnings); ILL_CONDITIONED when no digit is supported."""
    condition = condition_estimate(A, lu)
    digits = supported_digits(condition)
    if digits < 1:
        raise ProductSystemError(
            Reason.ILL_CONDITIONED,
            f"the technosphere matrix has a condition estimate of {condition:.2e}: a loop returns almost all "
            "it takes, and a float64 solve supports no significant digit of the result",
        )
    warnings: tuple[str, ...] = ()
    if condition > WARN_CONDITION:
        warnings = (
            f"ill-conditioned technosphere matrix (condition estimate {condition:.2e}): results carry "
            f"{digits} significant digits; check loops that return nearly all they take",
        )
    return condition, digits, warnings


@dataclass
class SystemResults:
    """Per unit of each row (product unit): flows X (rows x flows) and GWP by origin (rows x 3)."""

    compiled: CompiledSystem
    lu: Factor
    X: np.ndarray
    impacts: np.ndarray  # fossil, biogenic, luluc
    a2: np.ndarray
    a3: np.ndarray
    d: np.ndarray
    condition: float = 1.0  # estimate of the scaled technosphere matrix (condition_estimate)
    digits: int = SIGNIFICANT_DIGITS  # significant digits the solve supports
    warnings: tuple[str, ...] = ()

    def scaling(self, row: int, amount: float = 1.0) -> np.ndarray:
        """Runs of every virtual process to make `amount` of row `row` (one forward solve)."""
        return self.scaling_block(np.array([row]), np.array([amount]))[:, 0]

    def scaling_block(self, rows: np.ndarray, amounts: np.ndarray) -> np.ndarray:
        """Runs of every virtual process (n x k) for k demands at once, from the one factorisation."""
        f = np.zeros((self.compiled.A.shape[0], len(rows)))
        f[rows, np.arange(len(rows))] = amounts
        return self.lu.solve(f)


def gate_modules(cs: CompiledSystem, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A2 and A3 per unit of every row, shape (rows x 3)."""
    cb_transport = (sp.diags(cs.transport_mask.astype(float)) @ cs.B).T @ cs.C.T
    cb_gate = (sp.diags(cs.gate_mask.astype(float)) @ cs.B).T @ cs.C.T
    return np.asarray(cb_transport) * d[:, None], np.asarray(cb_gate) * d[:, None]


def solve_system(cs: CompiledSystem) -> SystemResults:
    """Factorise once, estimate the conditioning, and compute every product's cumulative flows and GWP."""
    if cs.A.shape[0] == 0:
        raise ProductSystemError(Reason.SINGULAR_SYSTEM, "the product system is empty")
    labels, order = components(cs.A)
    lu = factorise(cs.A, order)
    d = inverse_diagonal(cs.A, labels)
    condition, digits, warnings = conditioning(cs.A, lu)
    X = lu.solve(cs.B.T.toarray(), trans="T")
    if not np.all(np.isfinite(X)):
        raise ProductSystemError(Reason.SINGULAR_SYSTEM, "the solution is not finite (ill-conditioned system)")
    a2, a3 = gate_modules(cs, d)
    return SystemResults(cs, lu, X, X @ cs.C.T, a2, a3, d, condition, digits, warnings)
