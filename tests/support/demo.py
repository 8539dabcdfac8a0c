"""Helpers for tests that run against the demo system (tests/e2e): its database and its CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from epd_devstack.demo.system import DemoSystem
from tests.conftest import REPO


def db(system: DemoSystem, sql: str, *args):
    import asyncpg

    async def run():
        conn = await asyncpg.connect(system.dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def cli(system: DemoSystem, *args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "epd_cli.main", *args],
        env={**os.environ, **system.env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, f"epd {' '.join(args)}: {res.stdout}\n{res.stderr}"
    return res.stdout
