"""Ingest and intensity are separate services: each imports only the shared packages (epd_common, the
generated epd.v1) and itself, never the other (DESIGN.md section 4)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

FIRST_PARTY = {"epd", "epd_common", "epd_records", "epd_connector", "epd_ingest", "epd_intensity", "epd_footprint",
               "epd_publisher", "epd_gateway", "epd_cli", "epd_devstack"}  # fmt: skip


def first_party_imports(package: Path) -> dict[str, set[str]]:
    """Top-level first-party packages each module imports (absolute imports; relative ones stay inside)."""
    out: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(REPO))] = names & FIRST_PARTY
    return out


@pytest.mark.parametrize("service", ["ingest", "intensity"])
def test_service_imports_only_shared_packages_and_itself(service: str):
    own = f"epd_{service}"
    allowed = {"epd", "epd_common", own}
    modules = first_party_imports(REPO / "services" / service / "src" / own)
    assert modules, f"no modules found for {own}"
    wrong = {module: sorted(names - allowed) for module, names in modules.items() if names - allowed}
    assert not wrong, f"{own} imports other services: {wrong}"
