"""`epd intensity load-factors` into a fresh database: loads, no-op on reload, refuses changed content."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from epd_intensity.factors import DATA_DIR, load_library
from epd_intensity.factors.db import FactorSetConflict, load_factor_set

ROOT = Path(__file__).parents[3]


def cli(*args: str, dsn: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "epd"), "intensity", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "EPD_PG_DSN": dsn},
        cwd=ROOT,
        timeout=60,
    )


async def test_load_factors_command_is_idempotent_and_refuses_changed_versions(fresh_db, tmp_path):
    def command(*args):
        return cli(*args, dsn=fresh_db)

    first = command("load-factors")
    assert first.returncode == 0, first.stderr
    assert "2025.1: loaded" in first.stdout
    again = command("load-factors")
    assert again.returncode == 0 and "2025.1: unchanged" in again.stdout
    conn = await asyncpg.connect(fresh_db)
    try:
        library = load_library()
        count = await conn.fetchval("SELECT count(*) FROM emission_factors WHERE set_version = '2025.1'")
        assert count == len(library.sets[0].factors)
        row = await conn.fetchrow(
            "SELECT co2e, gases, citation, is_default FROM emission_factors WHERE factor_id = 'cn-grid-2023-east'"
        )
        assert row["citation"] and not row["is_default"] and json.loads(row["gases"]) == {"CO2": "0.5500"}
        assert await conn.fetchval("SELECT count(*) FROM emission_factors WHERE is_default AND note = ''") == 0
        assert await conn.fetchval("SELECT value FROM gwp_values WHERE gwp_set = 'AR6' AND gas = 'CF4'") == Decimal(
            "7380"
        )
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("UPDATE emission_factors SET citation = 'x' WHERE factor_id = 'cn-grid-2023-east'")
    finally:
        await conn.close()
    # The same version with one value changed in its files: refused, nothing written.
    changed = tmp_path / "data"
    shutil.copytree(DATA_DIR, changed)
    grid = changed / "grid-china.yaml"
    grid.write_text(grid.read_text().replace("0.5500", "0.5501", 1))
    refused = command("load-factors", "--data-dir", str(changed))
    assert refused.returncode == 2 and "immutable" in refused.stderr
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=2)
    try:
        with pytest.raises(FactorSetConflict):
            await load_factor_set(pool, load_library(changed).sets[0])
        renamed = dataclasses.replace(load_library(changed).sets[0], version="2025.1-fix")
        with pytest.raises(asyncpg.UniqueViolationError):  # two versions may not share windows_from
            await load_factor_set(pool, renamed)
    finally:
        await pool.close()
