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


def cli(system: DemoSystem, *args: str, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "epd_cli.main", *args],
        env={**os.environ, **system.env, **(env or {})},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, f"epd {' '.join(args)}: {res.stdout}\n{res.stderr}"
    return res.stdout


def admin_key(system: DemoSystem, name: str, *roles: str) -> str:
    """A new admin API user of the demo system (`epd admin users add`); its API key. Names are unique,
    so a name that exists gets a suffix."""
    import json

    for n in range(100):
        who = name if n == 0 else f"{name} {n}"
        if not db(system, "SELECT 1 FROM admin_users WHERE name = $1", who):
            out = cli(system, "admin", "users", "add", who, *(a for r in roles for a in ("--role", r)))
            return json.loads(out)["api_key"]
    raise AssertionError(f"no free user name like {name!r}")
