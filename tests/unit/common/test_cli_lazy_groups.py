"""The `epd` root imports a command group only to run it: `epd topics` or `epd publisher ...` does not
import the footprint engine (scipy, pint; seconds); `epd --help` still lists every command, in
typer's order, and each one resolves."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from epd_cli.main import _lazy, app

PROBE = """
import sys
from typer.testing import CliRunner
from epd_cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.output
print(" ".join(sorted(m for m in ("scipy", "pint", "epd_footprint", "epd_publisher") if m in sys.modules)))
"""


def imported_by(*args: str) -> set[str]:
    res = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split())


def test_a_command_imports_only_its_own_group():
    assert imported_by("topics") == set()
    assert imported_by("publisher", "--help") == {"epd_publisher"}


def test_help_lists_every_command_commands_before_groups():
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    # a command's row starts right after the border; its wrapped help continues indented
    listed = [
        line.split()[1]
        for line in result.output.splitlines()
        if line.startswith("│ ") and not line.startswith("│  ") and "  " in line[2:]
    ]
    names = [n for n in listed if n in {"topics", *_lazy()}]
    assert names == [
        "topics", "status", "verify", "simulate",
        "feed", "kafka", "admin", "audit", "connector", "footprint", "gateway", "intensity", "publisher",
    ]  # fmt: skip
    for name in names[1:]:
        sub = CliRunner().invoke(app, [name, "--help"])
        assert sub.exit_code == 0 and "Usage:" in sub.output, (name, sub.output)
