"""Composition root: `python -m epd_footprint` runs the windows consumer and the admin API."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import uvicorn

from epd_common.db import TRANSIENT_ERRORS, create_pool
from epd_common.dead_letters import KafkaDeadLetters, PoisonGuard
from epd_common.http_server import ServiceServer, serve_until
from epd_common.kafka import TopicProducer, ensure_topics, make_consumer, make_producer
from epd_common.lifecycle import run_tasks, run_until_signalled
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_common.topics import INTENSITY_WINDOWS, INTENSITY_WINDOWS_DEAD_LETTERS

from .api import create_app
from .consumer import run_consumer
from .domain.drift import DriftPolicy, to_decimal
from .pg_store import pg_transactions
from .service import FootprintService
from .settings import FootprintSettings

log = logging.getLogger("epd_footprint")


def admin_config(settings: FootprintSettings, pool: asyncpg.Pool) -> uvicorn.Config:
    """The admin API's server: TLS when EPD_FOOTPRINT_ADMIN_TLS_CERT_FILE/_KEY_FILE are set (the settings
    refuse plain HTTP off loopback unless EPD_FOOTPRINT_ADMIN_ALLOW_PLAINTEXT says a proxy terminates TLS)."""
    app = create_app(
        pool,
        settings.admin_token,
        max_body_bytes=settings.admin_max_body_bytes,
        max_json_depth=settings.admin_max_json_depth,
    )
    return uvicorn.Config(
        app,
        host=settings.admin_host,
        port=settings.admin_port,
        log_config=None,
        lifespan="off",
        ssl_certfile=settings.admin_tls_cert_file,
        ssl_keyfile=settings.admin_tls_key_file,
    )


async def serve(settings: FootprintSettings, stop: asyncio.Event) -> None:
    pool = await create_pool(settings.pg_dsn, actor="service:footprint")
    service = FootprintService(
        pg_transactions(pool),
        sizes=settings.window_sizes.split(","),
        default_policy=DriftPolicy(
            to_decimal(settings.drift_threshold, "EPD_FOOTPRINT_DRIFT_THRESHOLD"), settings.drift_consecutive
        ),
    )
    prefix = settings.topic_prefix
    await ensure_topics(
        settings.kafka,
        [INTENSITY_WINDOWS_DEAD_LETTERS],
        replication=settings.topic_replication,
        prefix=prefix,
    )
    group = prefix + settings.group_id  # prefixed like its topics (and its grant)
    consumer = make_consumer(settings.kafka, group, INTENSITY_WINDOWS.topic(prefix))
    producer = make_producer(settings.kafka)  # dead letters only
    dead_letters = KafkaDeadLetters(
        TopicProducer(producer),
        INTENSITY_WINDOWS_DEAD_LETTERS,
        consumer=group,
        component="footprint",
        prefix=prefix,
    )
    guard = PoisonGuard(dead_letters, attempts=settings.window_attempts, transient=TRANSIENT_ERRORS)
    server = ServiceServer(admin_config(settings, pool))
    try:
        await producer.start()
        await consumer.start()
        log.info("footprint service started")
        await run_tasks(
            {"consumer": run_consumer(service, consumer, stop, guard=guard), "admin-api": serve_until(server, stop)},
            stop,
        )
    finally:
        await consumer.stop()
        await producer.stop()
        await pool.close()
        log.info("footprint service stopped")


def main() -> None:
    settings = FootprintSettings()
    configure_logging(settings.log_level, settings.log_json, "footprint")
    start_metrics_server(settings.metrics_port)
    run_until_signalled(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
