"""The footprint service's windows consumer meets a poison message on the real broker: a window the service
raises on at every attempt (fault injected: the service here records windows instead of applying them, so
no database is needed) goes to epd.intensity.windows.dead-letters.v1 with the reason; the windows after it
are handled, and a restarted consumer (same group) starts after it instead of stopping on it again."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from footprint_chain import roasting_window

from epd_common.db import TRANSIENT_ERRORS
from epd_common.dead_letters import KafkaDeadLetters, PoisonGuard
from epd_common.kafka import TopicProducer, ensure_topics, make_consumer, make_producer
from epd_common.topics import INTENSITY_WINDOWS, INTENSITY_WINDOWS_DEAD_LETTERS, SINGLE_BROKER
from epd_footprint.consumer import run_consumer
from epd_footprint.errors import FootprintError

HANG = 90.0


class Service:
    """Handles windows by recording their ids; raises on the poison one, every time."""

    def __init__(self, poison: str) -> None:
        self.poison = poison
        self.handled: list[str] = []

    async def handle_record(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        window = INTENSITY_WINDOWS.decode(value or b"")
        if window.window_id == self.poison:
            raise FootprintError("engine refused the window's inventory")
        self.handled.append(window.window_id)


async def test_a_poison_window_is_dead_lettered_and_the_consumer_moves_on(kafka, topic_prefix, unique):
    topic, letters = INTENSITY_WINDOWS.topic(topic_prefix), INTENSITY_WINDOWS_DEAD_LETTERS
    await ensure_topics(kafka, [INTENSITY_WINDOWS, letters], replication=SINGLE_BROKER, prefix=topic_prefix)
    windows = [roasting_window(day, Decimal("1.2")) for day in range(4)]  # one process: one partition, in order
    poison = windows[1].window_id
    producer = make_producer(kafka)
    await producer.start()
    send, group = TopicProducer(producer), f"footprint-{unique}"

    async def consume(until_handled: str) -> Service:
        service = Service(poison)
        consumer = make_consumer(kafka, group, topic)
        await consumer.start()
        dead = KafkaDeadLetters(send, letters, consumer=group, component="footprint", prefix=topic_prefix)
        guard = PoisonGuard(dead, attempts=2, transient=TRANSIENT_ERRORS, first_delay_s=0.01)
        stop = asyncio.Event()
        task = asyncio.create_task(run_consumer(service, consumer, stop, guard=guard))  # type: ignore[arg-type]
        try:
            async with asyncio.timeout(HANG):
                while until_handled not in service.handled:
                    assert not task.done(), task.exception()
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, HANG)
            await consumer.stop()
        return service

    try:
        await send.send_all(INTENSITY_WINDOWS, [(w.process_id, w) for w in windows[:3]], topic=topic)
        first = await consume(windows[2].window_id)
        assert first.handled == [windows[0].window_id, windows[2].window_id]

        reader = make_consumer(kafka, None, letters.topic(topic_prefix))
        await reader.start()
        try:
            async with asyncio.timeout(HANG):
                (record,) = [r for rs in (await reader.getmany(timeout_ms=5000)).values() for r in rs]
        finally:
            await reader.stop()
        letter = letters.decode(record.value)
        assert INTENSITY_WINDOWS.decode(letter.source_value).window_id == poison
        assert (letter.source_topic, letter.source_offset, letter.attempts, letter.consumer) == (topic, 1, 2, group)
        assert letter.reason == "FootprintError" and "inventory" in letter.detail
        assert record.key == windows[1].process_id.encode()

        # Restarted: it starts after the poison (committed past it) and handles only what came since.
        await send.send_all(INTENSITY_WINDOWS, [(windows[3].process_id, windows[3])], topic=topic)
        again = await consume(windows[3].window_id)
        assert again.handled == [windows[3].window_id]
    finally:
        await producer.stop()
