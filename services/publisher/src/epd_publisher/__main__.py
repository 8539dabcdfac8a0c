"""Composition root: ``python -m epd_publisher`` runs the outbox relay, the partner fan-out (a
subscriber of the change feed), the delivery sender and the forwarder of the gateway's PACT answers
until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg

from epd_common import topics
from epd_common.db import create_pool
from epd_common.dead_letters import KafkaDeadLetters
from epd_common.kafka import TopicProducer, ensure_topics, make_consumer, make_producer
from epd_common.lag import ConsumerLag
from epd_common.lifecycle import run_tasks, run_until_signalled
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_common.signing_keys import CachedKeys, ensure
from epd_publisher import pact_events
from epd_publisher.delivery.breaker import BreakerBoard
from epd_publisher.delivery.pinning import PinnedClient
from epd_publisher.endpoint_secrets import EndpointSecrets
from epd_publisher.outbox import PgOutbox
from epd_publisher.partners import fanout_subscriber, undecryptable_endpoints
from epd_publisher.pg_deliveries import PgDeliveryStore
from epd_publisher.relay import Relay, RelayConfig
from epd_publisher.rendering import SignedRecords, key_ring, programme_info
from epd_publisher.sender import Sender, SenderConfig, SystemClock
from epd_publisher.settings import PublisherSettings
from epd_records.signing import new_stored_key

log = logging.getLogger("epd_publisher")


async def serve(settings: PublisherSettings, stop: asyncio.Event) -> None:
    prefix = settings.topic_prefix
    await ensure_topics(
        settings.kafka,
        [topics.FOOTPRINT_CHANGES, topics.FOOTPRINT_RECORDS, topics.FOOTPRINT_CHANGES_DEAD_LETTERS],
        replication=settings.topic_replication,
        prefix=prefix,
    )
    async with contextlib.AsyncExitStack() as resources:
        pool = await create_pool(settings.pg_dsn, max_size=10, actor="service:publisher")
        resources.push_async_callback(pool.close)
        work: dict[str, Coroutine[Any, Any, None]] = {}
        if settings.relay_enabled:
            producer = make_producer(settings.kafka)
            await producer.start()
            resources.push_async_callback(producer.stop)
            relay = Relay(
                PgOutbox(pool),
                TopicProducer(producer),
                RelayConfig(prefix, max_rows=settings.relay_max_rows, poll_interval_s=settings.poll_interval_s),
            )
            work["relay"] = relay.run(stop)
        if settings.delivery_enabled:
            await delivery(settings, pool, resources, work, stop)
        log.info(
            "publisher started",
            extra={
                "relay": settings.relay_enabled,
                "delivery": settings.delivery_enabled,
                "started_at": datetime.now(UTC).isoformat(),
            },
        )
        await run_tasks(work, stop)


async def delivery(
    settings: PublisherSettings,
    pool: asyncpg.Pool,
    resources: contextlib.AsyncExitStack,
    work: dict[str, Coroutine[Any, Any, None]],
    stop: asyncio.Event,
) -> None:
    """The partner side: fan-out of the change feed, the delivery sender, the PACT answer forwarder."""
    prefix, clock = settings.topic_prefix, SystemClock()
    consumer = make_consumer(settings.kafka, prefix + settings.fanout_group, topics.FOOTPRINT_CHANGES.topic(prefix))
    await consumer.start()
    resources.push_async_callback(consumer.stop)
    dead_letter_producer = make_producer(settings.kafka)
    await dead_letter_producer.start()
    resources.push_async_callback(dead_letter_producer.stop)
    dead_letters = KafkaDeadLetters(
        TopicProducer(dead_letter_producer),
        topics.FOOTPRINT_CHANGES_DEAD_LETTERS,
        consumer=prefix + settings.fanout_group,
        component="publisher",
        prefix=prefix,
    )
    fanout = fanout_subscriber(
        consumer,
        pool,
        clock,
        dead_letters=dead_letters,
        attempts=settings.fanout_attempts,
        lag=ConsumerLag("publisher", consumer),
    )
    work["fanout"] = fanout.run(stop)
    secrets = EndpointSecrets(settings.secret_key)
    # The programme's record-signing keys (the gateway's too): created here on a first start.
    await ensure(pool, settings.signing_secret, new_stored_key)
    keys = CachedKeys(pool, settings.signing_secret, settings.key_refresh_seconds, key_ring)
    if bad := await undecryptable_endpoints(pool, secrets):
        # Not fatal (a restart would not fix it): their deliveries wait until the key is right.
        log.error(
            "EPD_PUBLISHER_SECRET_KEY does not decrypt the secrets of enabled endpoints; their "
            "deliveries are deferred until the key is corrected or the endpoints are registered again",
            extra={"endpoints": bad[:50], "count": len(bad)},
        )
    http = PinnedClient(timeout=settings.http_timeout_s)  # connects only to SSRF-checked addresses
    resources.push_async_callback(http.aclose)
    breakers = BreakerBoard(
        settings.breaker_failures, settings.breaker_cool_down_s, clock=lambda: clock.now().timestamp()
    )
    sender = Sender(
        PgDeliveryStore(pool),
        http,
        SignedRecords(programme_info(settings), keys),
        clock=clock,
        breakers=breakers,
        config=SenderConfig(
            event_source=settings.event_source,
            concurrency=settings.concurrency,
            partner_concurrency=settings.partner_concurrency,
            lease_s=settings.lease_s,
            timeout_s=settings.http_timeout_s,
            max_response_bytes=settings.max_response_bytes,
        ),
        secrets=secrets,
    )
    work["sender"] = sender.run(stop)
    if settings.pact_events_enabled:
        work["pact-events"] = pact_events.run(pool, clock, stop, settings.poll_interval_s * 5)


def main() -> None:
    settings = PublisherSettings()
    configure_logging(settings.log_level, settings.log_json, service="publisher")
    start_metrics_server(settings.metrics_port)

    run_until_signalled(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
