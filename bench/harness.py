"""Benchmark harness: every `bench/bench_*.py` module defines `async def run(ctx) -> list[BenchRow]`.

Each row carries its own baseline measured in the same run (machines here are shared and noisy;
only same-run ratios compare). `make bench` runs them all and writes bench/results.md (its table; the
scale scenario's latest report follows it there).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from epd_common.kafka import KafkaConnection

# Benchmarks run on the local stack: its one broker and the development secrets of .env.example.
os.environ.setdefault("EPD_ENVIRONMENT", "local")


@dataclass(frozen=True)
class BenchRow:
    benchmark: str
    metric: str
    value: float
    baseline: str
    baseline_value: float
    # "higher" when a bigger value is better (throughput), "lower" for times and memory.
    better: str = "higher"

    @property
    def ratio(self) -> float:
        if self.baseline_value == 0:
            return float("nan")
        return self.value / self.baseline_value


def _local_kafka() -> KafkaConnection:
    if os.environ.get("EPD_KAFKA_USERNAME"):
        from epd_common.settings import ServiceSettings

        return ServiceSettings(environment="local").kafka
    from epd_devstack import stack

    return stack.components(1)["kafka"].connection()


@dataclass
class BenchContext:
    # The secured local cluster as its admin (benchmarks create and read topics of their own).
    kafka: KafkaConnection = dataclasses.field(default_factory=_local_kafka)
    pg_dsn: str = dataclasses.field(
        default_factory=lambda: os.environ.get("EPD_PG_DSN", "postgresql://epd:epd@127.0.0.1:55432/epd")
    )
    # A short run (EPD_BENCH_QUICK=1) for smoke-testing the harness itself.
    quick: bool = dataclasses.field(default_factory=lambda: os.environ.get("EPD_BENCH_QUICK") == "1")
    run_id: str = dataclasses.field(default_factory=lambda: str(int(time.time() * 1000)))


async def best_of(repeats: int, fn: Callable[[], Awaitable[float]]) -> float:
    """Run an async measurement several times and keep the best (least disturbed) value."""
    values = [await fn() for _ in range(repeats)]
    return max(values)


def render_table(rows: list[BenchRow], header: str) -> str:
    lines = [
        header,
        "",
        "| benchmark | metric | value | baseline | baseline value | ratio |",
        "|---|---|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.benchmark} | {r.metric} | {r.value:,.4g} | {r.baseline} | {r.baseline_value:,.4g} | {r.ratio:.3f} |"
        )
    return "\n".join(lines) + "\n"


#: bench/results.md holds `make bench`'s table, then, below this line, the latest `make bench-scale` report
#: (the same text as bench/scale_results.md). Each command rewrites only its own part.
SCALE_MARKER = "<!-- below: the latest `make bench-scale` report (also bench/scale_results.md) -->"


def _split(path: pathlib.Path) -> tuple[str, str]:
    text = path.read_text() if path.exists() else ""
    table, marker, scale = text.partition(SCALE_MARKER)
    return table.rstrip("\n"), scale.strip("\n") if marker else ""


def _join(table: str, scale: str) -> str:
    return table + "\n" if not scale else f"{table}\n\n{SCALE_MARKER}\n\n{scale}\n"


def write_bench_table(path: pathlib.Path, table: str) -> None:
    """`make bench`: the table, keeping the scale report below it."""
    path.write_text(_join(table.rstrip("\n"), _split(path)[1]))


def write_scale_report(path: pathlib.Path, report: str) -> None:
    """`make bench-scale`: its report below the benchmark table, which stays as it is."""
    path.write_text(_join(_split(path)[0], report.strip("\n")))
