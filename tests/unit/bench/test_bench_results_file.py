"""bench/results.md holds `make bench`'s table and, below it, the latest `make bench-scale` report: each
command rewrites only its own part."""

from __future__ import annotations

from bench.harness import SCALE_MARKER, write_bench_table, write_scale_report


def test_each_command_keeps_the_others_part(tmp_path):
    results = tmp_path / "results.md"
    write_bench_table(results, "| table 1 |\n")
    assert results.read_text() == "| table 1 |\n"  # no scale report yet: no marker
    write_scale_report(results, "# Scale 1\n\nfigures\n")
    assert results.read_text() == f"| table 1 |\n\n{SCALE_MARKER}\n\n# Scale 1\n\nfigures\n"
    write_bench_table(results, "| table 2 |")
    assert results.read_text() == f"| table 2 |\n\n{SCALE_MARKER}\n\n# Scale 1\n\nfigures\n"
    write_scale_report(results, "# Scale 2")
    assert results.read_text() == f"| table 2 |\n\n{SCALE_MARKER}\n\n# Scale 2\n"


def test_a_scale_report_before_any_table(tmp_path):
    results = tmp_path / "results.md"
    write_scale_report(results, "# Scale")
    write_bench_table(results, "| table |")
    assert results.read_text() == f"| table |\n\n{SCALE_MARKER}\n\n# Scale\n"
