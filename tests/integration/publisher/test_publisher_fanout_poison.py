"""The partner fan-out (a change-feed subscriber) meets a poison message on the real broker and database: an
event whose product id carries a NUL byte fails in PostgreSQL on every attempt. It goes to
epd.footprint.changes.dead-letters.v1 with the reason, the events after it are fanned out, and a restarted
fan-out (same group) starts after it instead of stopping on it again."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from publisher_helpers import MAGNET, add_product, commit_version, endpoint_secrets, seed_registry
from test_publisher_delivery import SECRET, agreement

from epd.v1 import footprint_pb2
from epd_common import topics
from epd_common.dead_letters import KafkaDeadLetters
from epd_common.kafka import TopicProducer, ensure_topics, make_consumer, make_producer
from epd_publisher.clock import ManualClock
from epd_publisher.partners import EndpointSpec, add_endpoint, add_partner, fanout_subscriber
from epd_records.recognition import DeliveryFormat

HANG = 90.0


async def seed_webhook_partner(pool: asyncpg.Pool) -> None:
    """The registry, product magnet-a and partner jp-body with one PACT webhook endpoint."""
    await seed_registry(pool)
    await add_product(pool, "magnet-a", MAGNET)
    await add_partner(pool, "jp-body", "Japan body", "JP", agreement("jp-body"))
    spec = EndpointSpec("jp-hook", "jp-body", "https://hooks.partner.example/in", DeliveryFormat.WEBHOOK_PACT)
    await add_endpoint(
        pool,
        EndpointSpec(**{**spec.__dict__, "secret": SECRET}),
        lambda host: ["93.184.216.34"],
        secrets=endpoint_secrets(),
    )


async def run_until_delivered(subscriber, consumer, pool: asyncpg.Pool) -> None:
    """Run the fan-out subscriber until a delivery row exists, then stop it and its consumer."""
    stop = asyncio.Event()
    task = asyncio.create_task(subscriber.run(stop, poll_ms=100))
    try:
        async with asyncio.timeout(HANG):
            while not await pool.fetchval("SELECT count(*) FROM deliveries"):
                assert not task.done(), task.exception()
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, HANG)
        await consumer.stop()


async def test_a_poison_change_event_is_dead_lettered_and_the_fanout_moves_on(fresh_db, kafka, topic_prefix, unique):
    changes, letters = topics.FOOTPRINT_CHANGES, topics.FOOTPRINT_CHANGES_DEAD_LETTERS
    await ensure_topics(kafka, [changes, letters], replication=topics.SINGLE_BROKER, prefix=topic_prefix)
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=4)
    producer = make_producer(kafka)
    await producer.start()
    try:
        await seed_webhook_partner(pool)
        await commit_version(pool, "magnet-a")
        good = footprint_pb2.FootprintChanged.FromString(await pool.fetchval("SELECT payload FROM outbox"))
        poison = footprint_pb2.FootprintChanged()
        poison.CopyFrom(good)
        poison.event_id, poison.product_id = str(uuid.uuid4()), "magnet-a\x00"  # PostgreSQL text has no NUL
        send = TopicProducer(producer)
        # One key, so one partition, in this order: the poison first, the good event after it.
        await send.send_all(changes, [("magnet-a", poison), ("magnet-a", good)], topic=changes.topic(topic_prefix))

        group = f"fanout-{unique}"

        async def run_fanout() -> int:
            """Run the fan-out until the good event's delivery exists; returns the events set aside."""
            consumer = make_consumer(kafka, group, changes.topic(topic_prefix))
            await consumer.start()
            dead = KafkaDeadLetters(send, letters, consumer=group, component="publisher", prefix=topic_prefix)
            subscriber = fanout_subscriber(  # the poison is no outbox row: its failure is the fan-out's own here
                consumer, pool, ManualClock(), dead_letters=dead, attempts=2, authenticate=False
            )
            await run_until_delivered(subscriber, consumer, pool)
            return subscriber.dead_lettered

        assert await run_fanout() == 1
        assert await pool.fetchval("SELECT event_id::text FROM deliveries") == good.event_id

        # The dead letter: the record as it was, where it was, why.
        reader = make_consumer(kafka, None, letters.topic(topic_prefix))
        await reader.start()
        try:
            async with asyncio.timeout(HANG):
                (record,) = [r for rs in (await reader.getmany(timeout_ms=5000)).values() for r in rs]
        finally:
            await reader.stop()
        letter = letters.decode(record.value)
        assert (letter.source_topic, letter.source_offset, letter.attempts) == (changes.topic(topic_prefix), 0, 2)
        assert changes.decode(letter.source_value) == poison and letter.consumer == group
        assert letter.reason == "CharacterNotInRepertoireError" and record.key == b"magnet-a"

        # A restart of the fan-out (same group) neither stops on the poison again nor repeats anything.
        await pool.execute("DELETE FROM deliveries")
        await commit_version(pool, "magnet-a")
        (later,) = [r for r in await pool.fetch("SELECT payload FROM outbox ORDER BY outbox_id")][1:]
        await send.send_all(
            changes, [("magnet-a", changes.decode(later["payload"]))], topic=changes.topic(topic_prefix)
        )
        assert await run_fanout() == 0
        assert await pool.fetchval("SELECT count(*) FROM deliveries") == 1
    finally:
        await producer.stop()
        await pool.close()
