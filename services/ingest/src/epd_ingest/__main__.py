"""Composition root of the ingest service: `python -m epd_ingest`.

Settings from the environment (settings.py: EPD_* shared, EPD_INGEST_* own; see .env.example).
SIGTERM/SIGINT stop after the poll in flight, whose state is then saved and offsets committed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from epd_common import topics
from epd_common.db import create_pool
from epd_common.kafka import TopicProducer, ensure_topics, make_consumer, make_producer
from epd_common.lifecycle import run_tasks, run_until_signalled
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_common.topics import TopicSpec
from epd_ingest.pg_registry import PgPlantRegistry
from epd_ingest.service import IngestService
from epd_ingest.settings import IngestSettings
from epd_ingest.state_store import IngestStateStore

log = logging.getLogger("epd_ingest")


async def serve(settings: IngestSettings, stop: asyncio.Event) -> None:
    """Run until `stop` is set (tests call this in-process with their own settings)."""
    ingest_topics: list[TopicSpec[Any]] = [topics.TELEMETRY_RAW, topics.TELEMETRY_READINGS, topics.TELEMETRY_REJECTED]
    if settings.create_topics:
        await ensure_topics(
            settings.kafka,
            ingest_topics,
            replication=settings.topic_replication,
            prefix=settings.topic_prefix,
        )
    pool = await create_pool(settings.pg_dsn, max_size=4)
    producer = make_producer(settings.kafka)
    group = settings.topic_prefix + settings.consumer_group  # prefixed like its topics (and its grant)
    consumer = make_consumer(settings.kafka, group)
    registry = PgPlantRegistry(pool, listen_dsn=settings.pg_dsn)
    try:
        await registry.refresh()
        config = settings.ingest_config()
        await producer.start()
        await consumer.start()
        service = IngestService(
            consumer,
            TopicProducer(producer),
            registry,
            IngestStateStore(pool, group, config),
            prefix=settings.topic_prefix,
            config=config,
            refresh_registry=registry.refresh,
            refresh_seconds=settings.registry_refresh_seconds,
            registry_changed=registry.changed,
            stall_seconds=settings.stall_seconds,
        )

        async def stop_service() -> None:  # the service has its own stop flag; bridge the signal to it
            await stop.wait()
            service.stop()

        await run_tasks({"ingest": service.run(), "stopper": stop_service()}, stop)
    finally:
        await registry.close()
        await consumer.stop()
        await producer.stop()
        await pool.close()


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log_level, settings.log_json, service="ingest")
    start_metrics_server(settings.metrics_port)

    log.info("ingest starting: %s", settings.topic_prefix + topics.TELEMETRY_RAW.name)
    run_until_signalled(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
