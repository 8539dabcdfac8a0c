"""The footprint admin API served in-process (uvicorn on a free loopback port) over a given database, for
tests that register plants the way operators do: through the registry's one writer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import asyncpg
import uvicorn

from epd_common.db import create_pool
from epd_footprint.api import create_app
from epd_footprint.user_store import add_user
from epd_footprint.users import parse_roles

TOKEN = "integration-operator-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def running_admin_api(dsn: str) -> AsyncIterator[str]:
    """Yields the API's base URL; operator token TOKEN."""
    pool = await create_pool(dsn, max_size=4)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(pool, TOKEN), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    server.install_signal_handlers = lambda: None  # the test process keeps its own handlers
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if task.done():
                    raise RuntimeError(f"admin API did not start: {task.exception()}")
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await pool.close()


async def admin_key(pool_or_dsn: asyncpg.Pool | str, name: str, *roles: str) -> str:
    """A new admin API user with these roles; its API key (as `epd admin users add` prints it)."""
    if isinstance(pool_or_dsn, str):
        pool = await create_pool(pool_or_dsn, max_size=1)
        try:
            return (await add_user(pool, name, parse_roles(list(roles)))).api_key
        finally:
            await pool.close()
    return (await add_user(pool_or_dsn, name, parse_roles(list(roles)))).api_key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
