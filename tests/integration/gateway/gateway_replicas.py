"""Two real gateway processes on one database (stored records and token buckets live in PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from conftest import add_clients

from tests.support.gateway_process import Gateway, start, stop


@contextlib.asynccontextmanager
async def replicas(dsn: str, tmp: Path, **extra: str) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Two gateway processes behind one public name (tokens of either are good at both). They render only
    on first read and on `materialise` unless `extra` turns render-ahead on (test_gateway_documents)."""
    clients = await add_clients(dsn)
    env = {"EPD_GATEWAY_PUBLIC_URL": "https://gateway.test.invalid", "EPD_GATEWAY_RENDER_AHEAD_SECONDS": "0", **extra}
    procs, gateways = [], []
    try:
        for name in ("one", "two"):
            (tmp / name).mkdir()
            proc, penv, port = await asyncio.to_thread(start, dsn, tmp / name, **env)
            procs.append(proc)
            gateways.append(
                Gateway(f"https://127.0.0.1:{port}", tmp / name / "tls" / "cert.pem", dsn, port, clients, penv)
            )
        yield gateways[0], gateways[1]
    finally:
        for proc in procs:
            await asyncio.to_thread(stop, proc)


async def stored_rows(db) -> dict:
    rows = await db.fetch("SELECT pf_id, accepts_provisional, kid, stamp, body, rendered_at FROM gateway_records")
    return {(r["pf_id"], r["accepts_provisional"]): r for r in rows}
