"""Composition root: `python -m epd_footprint` runs the windows consumer and the admin API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from pydantic import Field

from epd_common.db import create_pool
from epd_common.kafka import make_consumer
from epd_common.lifecycle import stop_on_signals
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_common.settings import ServiceSettings
from epd_common.topics import INTENSITY_WINDOWS

from .api import create_app
from .consumer import run_consumer
from .domain.drift import DriftPolicy, to_decimal
from .pg_store import pg_transactions
from .service import FootprintService

log = logging.getLogger("epd_footprint")


class AdminServer(uvicorn.Server):
    """uvicorn without signal handlers of its own: the service's one SIGTERM/SIGINT handler sets the
    stop event, which ends the server through `should_exit`. (uvicorn >= 0.29 installs handlers in
    `serve()` through `capture_signals`; the `install_signal_handlers` hook it had before is gone.)"""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class FootprintSettings(ServiceSettings):
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_FOOTPRINT_METRICS_PORT")
    admin_host: str = Field(default="127.0.0.1", validation_alias="EPD_FOOTPRINT_ADMIN_HOST")
    admin_port: int = Field(default=8083, ge=0, le=65535, validation_alias="EPD_FOOTPRINT_ADMIN_PORT")
    admin_token: str = Field(min_length=16, validation_alias="EPD_FOOTPRINT_ADMIN_TOKEN")
    group_id: str = Field(
        default="epd-footprint", pattern=r"^[A-Za-z0-9._-]{1,100}$", validation_alias="EPD_FOOTPRINT_GROUP_ID"
    )
    window_sizes: str = Field(
        default="ROLLING_30D",
        pattern=r"^(HOURLY|DAILY|ROLLING_30D)(,(HOURLY|DAILY|ROLLING_30D))*$",
        validation_alias="EPD_FOOTPRINT_WINDOW_SIZES",
    )
    drift_threshold: str = Field(default="0.10", validation_alias="EPD_FOOTPRINT_DRIFT_THRESHOLD")
    drift_consecutive: int = Field(default=3, ge=1, le=10000, validation_alias="EPD_FOOTPRINT_DRIFT_CONSECUTIVE")


async def main(settings: FootprintSettings) -> None:
    configure_logging(settings.log_level, settings.log_json, "footprint")
    start_metrics_server(settings.metrics_port)
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
    server = AdminServer(
        uvicorn.Config(
            create_app(pool, settings.admin_token),
            host=settings.admin_host,
            port=settings.admin_port,
            log_config=None,
            lifespan="off",
        )
    )
    stop = asyncio.Event()
    stop_on_signals(stop)
    await consumer.start()
    tasks = [
        asyncio.create_task(run_consumer(service, consumer, stop), name="consumer"),
        asyncio.create_task(server.serve(), name="admin-api"),
    ]
    log.info("footprint service started")
    try:
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not waiter and (exc := t.exception()) is not None:
                raise exc
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await consumer.stop()
        await pool.close()
        log.info("footprint service stopped")


if __name__ == "__main__":
    asyncio.run(main(FootprintSettings()))
