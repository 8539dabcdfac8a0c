"""Composition root: `python -m epd_portal` serves the public registry portal."""

from __future__ import annotations

import asyncio
import logging

from epd_common.http_server import serve_until
from epd_common.lifecycle import run_tasks, run_until_signalled
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_portal.settings import PortalSettings
from epd_portal.wiring import build_deps, http_server, open_pool

log = logging.getLogger("epd_portal")


async def serve(settings: PortalSettings, stop: asyncio.Event) -> None:
    pool = await open_pool(settings)
    deps = build_deps(settings, pool)
    try:
        await deps.repository.check_read_only()  # refuses a role that could change data
        server = http_server(settings, deps)
        scheme = "https" if settings.tls_cert_file else "http"
        log.info("portal on %s://%s:%s (public URL %s)", scheme, settings.host, settings.port, settings.public_url)
        await run_tasks({"http": serve_until(server, stop)}, stop)
    finally:
        await deps.admin.close()
        await pool.close()


def main() -> None:
    settings = PortalSettings()  # EPD_RECORDS_KEY_SECRET is required
    configure_logging(settings.log_level, settings.log_json, service="portal")
    start_metrics_server(settings.metrics_port)
    run_until_signalled(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
