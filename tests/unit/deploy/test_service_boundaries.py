"""Service boundaries as a test (DESIGN.md section 4): a service imports only the shared packages
(epd_common, epd_records, the generated epd.v1) and its own package; the record model stays pure.
Every import statement counts, at module level or inside a function."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

SHARED = {"epd", "epd_common", "epd_records"}
# The record model is pure: no web framework, HTTP client, Kafka, database driver or server.
IMPURE = {"fastapi", "starlette", "httpx", "aiohttp", "aiokafka", "faust", "asyncpg", "uvicorn", "sqlalchemy"}


def packages() -> list[Path]:
    return sorted(p for p in (REPO / "services").glob("*/src/epd_*") if p.is_dir())


def imported_roots(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def offences(package: Path, allowed: set[str], forbidden: set[str] | None = None) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        for line, root in imported_roots(path):
            ours = root.startswith("epd")
            if (ours and root not in allowed) or (forbidden is not None and root in forbidden):
                out.append(f"{path.relative_to(REPO)}:{line} imports {root}")
    return out


def test_every_service_package_is_found():
    names = {p.name for p in packages()}
    assert {"epd_common", "epd_records", "epd_gateway", "epd_publisher", "epd_footprint"} <= names


@pytest.mark.parametrize("package", packages(), ids=lambda p: p.name)
def test_a_service_imports_only_shared_packages_and_itself(package: Path):
    allowed = {"epd", "epd_common"} if package.name == "epd_common" else SHARED | {package.name}
    assert not offences(package, allowed), "\n".join(offences(package, allowed))


def test_the_record_model_is_pure():
    package = REPO / "services/records/src/epd_records"
    found = offences(package, {"epd", "epd_records"}, IMPURE)
    assert not found, "\n".join(found)


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from epd_gateway.x import y\n    import httpx\n")
    assert [root for _, root in imported_roots(module)] == ["epd_gateway", "httpx"]
