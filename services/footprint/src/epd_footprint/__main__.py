"""Composition root: `python -m epd_footprint` runs the windows consumer and the admin API."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from epd_common.db import create_pool
from epd_common.http_server import ServiceServer, serve_until
from epd_common.kafka import make_consumer
from epd_common.lifecycle import run_tasks, run_until_signalled
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_common.topics import INTENSITY_WINDOWS

from .api import create_app
from .consumer import run_consumer
from .domain.drift import DriftPolicy, to_decimal
from .pg_store import pg_transactions
from .service import FootprintService
from .settings import FootprintSettings

log = logging.getLogger("epd_footprint")


async def serve(settings: FootprintSettings, stop: asyncio.Event) -> None:
    pool = await create_pool(settings.pg_dsn)
    service = FootprintService(
        pg_transactions(pool),
        sizes=settings.window_sizes.split(","),
        default_policy=DriftPolicy(
            to_decimal(settings.drift_threshold, "EPD_FOOTPRINT_DRIFT_THRESHOLD"), settings.drift_consecutive
        ),
    )
    consumer = make_consumer(
        settings.kafka_bootstrap, settings.group_id, INTENSITY_WINDOWS.topic(settings.topic_prefix)
    )
    server = ServiceServer(
        uvicorn.Config(
            create_app(
                pool,
                settings.admin_token,
                max_body_bytes=settings.admin_max_body_bytes,
                max_json_depth=settings.admin_max_json_depth,
            ),
            host=settings.admin_host,
            port=settings.admin_port,
            log_config=None,
            lifespan="off",
        )
    )
    try:
        await consumer.start()
        log.info("footprint service started")
        await run_tasks(
            {"consumer": run_consumer(service, consumer, stop), "admin-api": serve_until(server, stop)}, stop
        )
    finally:
        await consumer.stop()
        await pool.close()
        log.info("footprint service stopped")


def main() -> None:
    settings = FootprintSettings()
    configure_logging(settings.log_level, settings.log_json, "footprint")
    start_metrics_server(settings.metrics_port)
    run_until_signalled(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
