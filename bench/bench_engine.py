"""Value-chain engine: full sparse solve of a generated chain (10,000 products, 20,000 processes),
its peak memory, the time from one changed process to the set of changed footprints, and every
product's detailed report (2,000 processes) streamed from block solves.

Baselines (same run, same size as the row they stand against):
- the dense numpy solve (inverse of A, then B A^-1) only at the size the dense solve handles
  here (2,000 products), against the engine's solve at that same size;
- at 10,000 products, scipy's direct sparse solve of the same matrices (`splu` of A, then
  X = A^-T B^T and X C^T: the engine's outputs without the inverse diagonal, the conditioning
  estimate and the gate modules). `splu` runs in the natural order: the generated rows come in tier
  order, so A is nearly triangular as it stands; scipy's default COLAMD ordering took ~15 s here
  (15x the fill-in), a baseline no one would keep;
- compile time against building the same A and B straight from their (row, column, value) triples
  with scipy.sparse.coo_matrix; the compiled system's memory against A and B as plain scipy CSR.
"""

from __future__ import annotations

import io
import json
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from harness import BenchContext, BenchRow

from epd_footprint.engine import (
    LiveSystem,
    compile_system,
    footprint,
    parse_process,
    parse_system,
    solve_system,
    write_json,
)

SEED = 20240501


def generate(n_products: int, n_processes: int, seed: int = SEED) -> dict:
    """Random product system: a tiered DAG plus back-edges (recycling loops), co-products, supply mixes.

    Each process's product inputs sum to < 0.9 of its output, so every loop returns less than it
    takes and the system is solvable (column sums of D^-1 N below 1).
    """
    rng = np.random.default_rng(seed)
    n_bg = 100
    background = [
        {
            "id": f"bg{i}",
            "unit": "kWh" if i % 3 == 0 else "kg",
            "category": "transport" if i % 10 == 1 else "energy",
            "emissions": {"CO2": round(float(rng.uniform(0.01, 2)), 4)},
            "default": True,
        }
        for i in range(n_bg)
    ]
    background[1]["unit"] = "tkm"
    main = np.concatenate([np.arange(n_products), rng.integers(0, n_products, n_processes - n_products)])
    producers: dict[int, list[int]] = {}
    processes = []
    for k in range(n_processes):
        p = int(main[k])
        outputs = [{"product": f"p{p}", "amount": 1, "unit": "kg"}]
        producers.setdefault(p, []).append(k)
        proc = {"id": f"proc{k}", "outputs": outputs, "inputs": [], "emissions": []}
        if rng.random() < 0.1 and p + 1 < n_products:  # co-product, mass allocation
            co = int(rng.integers(p + 1, min(n_products, p + 50)))
            if co != p:
                outputs.append({"product": f"p{co}", "amount": round(float(rng.uniform(0.1, 2)), 3), "unit": "kg"})
                producers.setdefault(co, []).append(k)
                proc["allocation"] = {"method": "mass"}
        n_in = int(rng.integers(1, 5)) if p > 0 else 0
        sources = rng.integers(max(0, p - 500), p, n_in) if p > 0 else []
        shares = rng.dirichlet(np.ones(max(n_in, 1)))[:n_in] * 0.85
        for src, share in zip(sources, shares, strict=True):
            proc["inputs"].append({"product": f"p{int(src)}", "amount": round(float(share), 6) or 0.001, "unit": "kg"})
        if p > 0 and rng.random() < 0.02:  # recycling back-edge into a product made later
            back = int(rng.integers(p, min(n_products, p + 200)))
            proc["inputs"].append({"product": f"p{back}", "amount": 0.01, "unit": "kg"})
        for b in rng.integers(0, n_bg, int(rng.integers(1, 4))):
            unit = background[int(b)]["unit"]
            proc["inputs"].append(
                {"activity": f"bg{int(b)}", "amount": round(float(rng.uniform(0.1, 5)), 4), "unit": unit}
            )
        if rng.random() < 0.1:
            proc["emissions"].append({"gas": "CF4", "amount": 1e-4, "unit": "kg"})
        processes.append(proc)
    products = []
    for p in range(n_products):
        entry = {"id": f"p{p}", "unit": "kg"}
        makers = sorted(set(producers.get(p, [])))
        if len(makers) > 1:
            w = rng.dirichlet(np.ones(len(makers)))
            w[-1] = 1.0 - w[:-1].sum()
            entry["supply_mix"] = {f"proc{m}": float(x) for m, x in zip(makers, w, strict=True)}
        products.append(entry)
    return {
        "format": "epd-product-system/1",
        "name": f"generated {n_products}/{n_processes}",
        "gwp": {"name": "AR6", "source": "IPCC AR6 WG1 Ch7 Table 7.SM.7", "factors": {"CF4": 7380}},
        "products": products,
        "background": background,
        "processes": processes,
    }


def _timed(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _retained_mib(fn) -> float:
    """MiB still allocated by fn's result while it is held (tracemalloc)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = fn()
        used = tracemalloc.get_traced_memory()[0] - before
        del held
        return used / 2**20
    finally:
        tracemalloc.stop()


def _peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _dense_solve(cs) -> None:
    inv = np.linalg.inv(cs.A.toarray())
    x = cs.B.toarray() @ inv
    _ = (cs.C @ x, np.diag(inv))


def _scipy_solve(cs) -> None:
    """The same solve by plain scipy: splu of A in its natural order, X = A^-T B^T, X C^T."""
    lu = spla.splu(sp.csc_matrix(cs.A), permc_spec="NATURAL")
    x = lu.solve(cs.B.T.toarray(), trans="T")
    _ = x @ cs.C.T


def _triples(m) -> tuple[list[float], list[int], list[int], tuple[int, int]]:
    coo = m.tocoo()
    return coo.data.tolist(), coo.row.tolist(), coo.col.tolist(), coo.shape


def _coo_build(triples) -> tuple:
    """A and B built straight from Python lists of their triples (what compile ends with)."""
    return tuple(sp.coo_matrix((v, (r, c)), shape=shape).tocsc() for v, r, c, shape in triples)


def _csr_mib(*matrices) -> float:
    return sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in map(sp.csr_matrix, matrices)) / 2**20


class _Sink(io.TextIOBase):
    """Counts what a writer writes (the report's bytes are not kept)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        return len(text)


def every_product_rows(n_products: int, n_processes: int) -> list[BenchRow]:
    """Detailed reports of every product (`epd footprint compute --json`): streamed block solves against
    one solve per product with every report collected, then dumped (how compute worked before)."""
    system = parse_system(generate(n_products, n_processes))
    res = solve_system(compile_system(system))
    products = list(system.products)
    sink = _Sink()

    def streamed() -> None:
        write_json(sink, system, res, products)

    def collected() -> None:
        sink.write(json.dumps([footprint(res, p).as_dict() for p in products]))

    label = f"{n_processes:,} processes"
    base = f"one solve per product, reports collected then dumped, {label}"
    collected_s, streamed_s = _timed(collected, 1), _timed(streamed, 1)
    sink.size = 0
    streamed()
    mb = sink.size / 1e6
    return [
        BenchRow(
            "engine",
            f"every product's report s, block solves streamed, {label} ({mb:.0f} MB)",
            streamed_s,
            base,
            collected_s,
            "lower",
        ),
        BenchRow(
            "engine",
            f"every product's report peak MiB, streamed, {label}",
            _peak_mib(streamed),
            f"peak MiB, {base}",
            _peak_mib(collected),
            "lower",
        ),
    ]


async def run(ctx: BenchContext) -> list[BenchRow]:
    small, large = ((300, 600), (2_000, 4_000)) if ctx.quick else ((2_000, 4_000), (10_000, 20_000))
    rows: list[BenchRow] = every_product_rows(250, 500) if ctx.quick else every_product_rows(1_000, 2_000)
    cs_small = compile_system(parse_system(generate(*small)))
    n_small = cs_small.A.shape[0]
    dense_s = _timed(lambda: _dense_solve(cs_small))
    sparse_s = _timed(lambda: solve_system(cs_small))
    dense_label = f"dense numpy inverse, same {small[0]:,} products ({n_small:,} rows)"
    rows.append(BenchRow("engine", f"full solve s, {small[0]:,} products", sparse_s, dense_label, dense_s, "lower"))
    rows.append(
        BenchRow(
            "engine",
            f"full solve peak MiB (tracemalloc), {small[0]:,} products",
            _peak_mib(lambda: solve_system(cs_small)),
            f"peak MiB, {dense_label}",
            _peak_mib(lambda: _dense_solve(cs_small)),
            "lower",
        )
    )

    system = parse_system(generate(*large))
    cs = compile_system(system)
    n = cs.A.shape[0]
    size = f"{large[0]:,} products / {large[1]:,} processes ({n:,} rows, nnz {cs.A.nnz:,})"
    full_s = _timed(lambda: solve_system(cs))
    scipy_s = _timed(lambda: _scipy_solve(cs))
    scipy_label = f"scipy splu (natural order) + X = A^-T B^T, X C^T of the same matrices, {large[0]:,} products"
    rows.append(
        BenchRow(
            "engine",
            f"full solve s (factor, inverse diagonal, conditioning, X, GWP), {size}",
            full_s,
            scipy_label,
            scipy_s,
            "lower",
        )
    )
    rows.append(
        BenchRow(
            "engine",
            f"full solve peak MiB (tracemalloc), {large[0]:,} products",
            _peak_mib(lambda: solve_system(cs)),
            f"peak MiB, {scipy_label}",
            _peak_mib(lambda: _scipy_solve(cs)),
            "lower",
        )
    )
    triples = (_triples(cs.A), _triples(cs.B))
    compile_s = _timed(lambda: compile_system(system))
    coo_s = _timed(lambda: _coo_build(triples))
    rows.append(
        BenchRow(
            "engine",
            f"compile A,B s (parsed system -> matrices, allocation, supply mixes), {large[0]:,} products",
            compile_s,
            f"scipy coo_matrix -> CSC of the same A, B triples (Python lists), {large[0]:,} products",
            coo_s,
            "lower",
        )
    )
    rows.append(
        BenchRow(
            "engine",
            f"compiled system MiB held (tracemalloc), {large[0]:,} products",
            _retained_mib(lambda: compile_system(system)),
            f"A and B as plain scipy CSR (data + indices + indptr), {large[0]:,} products",
            _csr_mib(cs.A, cs.B),
            "lower",
        )
    )

    live = LiveSystem(system)
    target = live.compiled.system.processes[f"proc{large[0] // 2}"]
    variants = []
    for factor in (1.2, 1.1, 1.3):
        data = {
            "id": target.id,
            "outputs": [{"product": o.product, "amount": str(o.amount), "unit": o.unit} for o in target.outputs],
            "inputs": [
                ({"product": x.ref} if x.is_product else {"activity": x.ref})
                | {"amount": str(x.amount * (1 if x.is_product else type(x.amount)(str(factor)))), "unit": x.unit}
                for x in target.inputs
            ],
        }
        if len(target.outputs) > 1:
            data["allocation"] = {"method": "mass"}
        variants.append(parse_process(data, "bench"))
    times, sizes = [], []
    for v in variants:
        t0 = time.perf_counter()
        change = live.replace_process(v)
        times.append(time.perf_counter() - t0)
        sizes.append(len(change.changed))
    rows.append(
        BenchRow(
            "engine",
            f"changed process -> changed footprints s (reused LU; {sizes[0]} of {n:,} changed)",
            min(times),
            f"full sparse re-solve, {large[0]:,} products",
            full_s,
            "lower",
        )
    )
    closure_s = _timed(lambda: live.downstream(target.id))
    rows.append(
        BenchRow(
            "engine",
            f"downstream closure s ({len(live.downstream(target.id))} rows)",
            closure_s,
            f"full sparse re-solve, {large[0]:,} products",
            full_s,
            "lower",
        )
    )
    return rows
