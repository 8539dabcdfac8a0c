"""Value-chain engine: full sparse solve of a generated chain (10,000 products, 20,000 processes),
its peak memory, the time from one changed process to the set of changed footprints, and every
product's detailed report (2,000 processes) streamed from block solves.

Baseline (same run): a dense numpy solve (inverse of A, then B A^-1) at the largest size the dense
solve handles comfortably here, against the sparse solve at that same size.
"""

from __future__ import annotations

import io
import json
import time
import tracemalloc

import numpy as np
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
    dense_label = f"dense numpy inverse, {small[0]:,} products ({n_small:,} rows)"
    rows.append(BenchRow("engine", f"full solve s, {small[0]:,} products", sparse_s, dense_label, dense_s, "lower"))
    dense_mem = _peak_mib(lambda: _dense_solve(cs_small))

    system = parse_system(generate(*large))
    t0 = time.perf_counter()
    cs = compile_system(system)
    compile_s = time.perf_counter() - t0
    n = cs.A.shape[0]
    full_s = _timed(lambda: solve_system(cs))
    label = f"full solve s, {large[0]:,} products / {large[1]:,} processes ({n:,} rows, nnz {cs.A.nnz:,})"
    rows.append(BenchRow("engine", label, full_s, dense_label, dense_s, "lower"))
    rows.append(BenchRow("engine", f"compile A,B s, {large[0]:,} products", compile_s, dense_label, dense_s, "lower"))
    rows.append(
        BenchRow(
            "engine",
            f"full solve peak MiB (tracemalloc), {large[0]:,} products",
            _peak_mib(lambda: solve_system(cs)),
            f"dense peak MiB, {small[0]:,} products",
            dense_mem,
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
