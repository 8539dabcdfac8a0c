"""Composition root: `python -m epd_gateway` serves the PACT v3 API over HTTPS only."""

from __future__ import annotations

import asyncio
import logging

from epd_common.db import create_pool
from epd_common.http_server import serve_until
from epd_common.lifecycle import run_tasks, run_until_signalled
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_gateway.keystore import ensure_key
from epd_gateway.settings import GatewaySettings
from epd_gateway.wiring import build_deps, https_server

log = logging.getLogger("epd_gateway")


async def serve(settings: GatewaySettings, stop: asyncio.Event) -> None:
    # The listing's statements join eight tables: planning them costs more than running them, so each
    # connection plans a prepared statement once (generic plan; asyncpg prepares and caches them).
    # The gateway sets no session state (its actor is a connection setting), so a released connection
    # needs no reset query: one round trip less per statement a request runs.
    pool = await create_pool(
        settings.pg_dsn,
        max_size=10,
        actor="service:gateway",
        settings={"plan_cache_mode": "force_generic_plan"},
        reset_sessions=False,
    )
    try:
        kid = await ensure_key(pool, settings.signing_secret)
        server = https_server(settings, build_deps(settings, pool))
        log.info("gateway on https://%s:%s (signing key %s)", settings.host, settings.port, kid)
        # On stop uvicorn stops accepting and drains open requests (EPD_GATEWAY timeout_graceful_shutdown).
        await run_tasks({"https": serve_until(server, stop)}, stop)
    finally:
        await pool.close()


def main() -> None:
    import uvloop

    settings = GatewaySettings()  # EPD_RECORDS_KEY_SECRET is required
    configure_logging(settings.log_level, settings.log_json, service="gateway")
    start_metrics_server(settings.metrics_port)
    # uvloop: the C event loop and transports cost less per request and per byte moved (TLS, asyncpg)
    # than asyncio's Python ones.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    run_until_signalled(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
