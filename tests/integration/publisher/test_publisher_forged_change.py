"""A change-feed event the footprint service did not write never reaches a partner (issue 14): on the real
broker and database, a forged event (a new id with a huge product sequence) and an altered one (a real
event id, another version) come before the real event. The fan-out matches each against the outbox:
the two are counted, set aside on epd.footprint.changes.dead-letters.v1 with the reason, and applied
never, so the product's position stays at the real sequence and the real event is delivered."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from prometheus_client import REGISTRY
from publisher_helpers import commit_version
from test_publisher_fanout_poison import run_until_delivered, seed_webhook_partner

from epd.v1 import footprint_pb2
from epd_common import topics
from epd_common.dead_letters import KafkaDeadLetters
from epd_common.kafka import TopicProducer, ensure_topics, make_consumer, make_producer
from epd_publisher.clock import ManualClock
from epd_publisher.partners import FANOUT_SUBSCRIBER, fanout_subscriber

HANG = 90.0


def unmatched() -> float:
    return REGISTRY.get_sample_value("epd_publisher_subscriber_unmatched_total", {"subscriber": FANOUT_SUBSCRIBER}) or 0


async def test_forged_and_altered_changes_are_set_aside_and_the_real_one_is_delivered(
    fresh_db, kafka, topic_prefix, unique
):
    changes, letters = topics.FOOTPRINT_CHANGES, topics.FOOTPRINT_CHANGES_DEAD_LETTERS
    await ensure_topics(kafka, [changes, letters], replication=topics.SINGLE_BROKER, prefix=topic_prefix)
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=4)
    producer = make_producer(kafka)
    await producer.start()
    try:
        await seed_webhook_partner(pool)
        sequence, _ = await commit_version(pool, "magnet-a")
        real = footprint_pb2.FootprintChanged.FromString(await pool.fetchval("SELECT payload FROM outbox"))
        forged = footprint_pb2.FootprintChanged()
        forged.CopyFrom(real)
        forged.event_id, forged.product_sequence = str(uuid.uuid4()), 10**15
        altered = footprint_pb2.FootprintChanged()
        altered.CopyFrom(real)
        altered.footprint.results[0].value = "0.01"  # the figure changed on the wire
        send = TopicProducer(producer)
        await send.send_all(
            changes,
            [("magnet-a", forged), ("magnet-a", altered), ("magnet-a", real)],
            topic=changes.topic(topic_prefix),
        )
        before = unmatched()

        group = f"fanout-{unique}"
        consumer = make_consumer(kafka, group, changes.topic(topic_prefix))
        await consumer.start()
        dead = KafkaDeadLetters(send, letters, consumer=group, component="publisher", prefix=topic_prefix)
        subscriber = fanout_subscriber(consumer, pool, ManualClock(), dead_letters=dead, attempts=2)
        await run_until_delivered(subscriber, consumer, pool)

        assert [r["event_id"] for r in await pool.fetch("SELECT event_id::text FROM deliveries")] == [real.event_id]
        assert (subscriber.unmatched, subscriber.applied, subscriber.dead_lettered) == (2, 1, 0)
        assert unmatched() - before == 2
        position = await pool.fetchval(
            "SELECT last_sequence FROM subscriber_positions WHERE subscriber = $1 AND product_id = 'magnet-a'",
            FANOUT_SUBSCRIBER,
        )
        assert position == sequence  # the forged sequence never counted

        reader = make_consumer(kafka, None, letters.topic(topic_prefix))
        await reader.start()
        got: list = []
        try:
            async with asyncio.timeout(HANG):
                while len(got) < 2:
                    got += [r for rs in (await reader.getmany(timeout_ms=1000)).values() for r in rs]
        finally:
            await reader.stop()
        set_aside = [letters.decode(r.value) for r in got]
        assert [changes.decode(letter.source_value) for letter in set_aside] == [forged, altered]
        assert {letter.reason for letter in set_aside} == {"UnmatchedChange"}
    finally:
        await producer.stop()
        await pool.close()
