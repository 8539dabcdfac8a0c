"""Run every benchmark under bench/ and write bench/results.md (see harness.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import pathlib
import platform
import sys

import psutil

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import BenchContext, BenchRow, render_table, write_bench_table  # noqa: E402

from epd_devstack.kafka import delete_topics_with_prefixes  # noqa: E402


def _load(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


async def main(selected: list[str]) -> int:
    ctx = BenchContext()
    rows: list[BenchRow] = []
    failures: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if selected and path.stem not in selected:
            continue
        print(f"== {path.stem}", flush=True)
        try:
            rows.extend(await _load(path).run(ctx))
        except Exception as exc:  # one broken benchmark must not hide the others' rows
            failures.append(f"{path.stem}: {type(exc).__name__}: {exc}")
            print(f"   FAILED: {exc}", flush=True)
    # Every benchmark names its topics bench<run_id>...: they go with the run (the stack broker stays).
    await delete_topics_with_prefixes(ctx.kafka, {f"bench{ctx.run_id}"})
    memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    machine = f"{platform.machine()}, {psutil.cpu_count()} cores, {memory}, Python {platform.python_version()}"
    header = f"Benchmarks run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine}."
    table = render_table(rows, header)
    if failures:
        table += "\nFailed benchmarks:\n\n" + "\n".join(f"- {f}" for f in failures) + "\n"
    write_bench_table(HERE / "results.md", table)
    print(table)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
