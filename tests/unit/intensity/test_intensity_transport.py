"""The worker's faust transport (app/transport.py): eager delivery keeps the semantics of a Task
(results, exceptions, cancellation) while finishing the common case without one, and the worker
consumer gets the bounded fetch wait and poll. No broker: the consumer is built, never started."""

import asyncio
import warnings

import faust
import pytest
from faust.types import TP

from epd_intensity.app.consumer_steps import ConsumerSteps
from epd_intensity.app.transport import DELIVERED, eager, transport_class


async def test_a_delivery_that_does_not_suspend_is_done_at_the_call():
    seen = []

    async def on_message(message):
        seen.append(message)

    result = eager(on_message)("m1")
    assert result is DELIVERED and seen == ["m1"]  # before anything is awaited
    assert await result is None


async def test_a_delivery_that_suspends_finishes_when_awaited_with_its_result():
    gate = asyncio.get_running_loop().create_future()
    steps = []

    async def on_message(message):
        steps.append("before")
        value = await gate
        steps.append(("after", value))
        await asyncio.sleep(0)  # a bare yield too
        return message * 2

    rest = eager(on_message)(21)
    assert rest is not DELIVERED and steps == ["before"]
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result("open")
    assert await task == 42
    assert steps == ["before", ("after", "open")]


async def test_exceptions_surface_where_a_task_would_raise_them():
    async def fails_at_once(message):
        raise ValueError("bad at once")

    with pytest.raises(ValueError, match="bad at once"):
        eager(fails_at_once)("m")

    gate = asyncio.get_running_loop().create_future()

    async def fails_later(message):
        await gate
        raise KeyError("bad later")

    rest = eager(fails_later)("m")
    gate.set_exception(RuntimeError("the awaited future failed"))
    with pytest.raises(RuntimeError, match="awaited future failed"):
        await rest

    gate2 = asyncio.get_running_loop().create_future()

    async def raises_after_resume(message):
        await gate2
        raise KeyError("bad later")

    rest = eager(raises_after_resume)("m")
    gate2.set_result(None)
    with pytest.raises(KeyError):
        await rest


async def test_cancelling_the_rest_cancels_the_delivery_and_its_wait():
    gate = asyncio.get_running_loop().create_future()
    cleaned = []

    async def on_message(message):
        try:
            await gate
        finally:
            cleaned.append(message)

    task = asyncio.ensure_future(eager(on_message)("m"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["m"] and gate.cancelled()


def _app(tmp_path, fetch_max_wait_ms=100, steps=None):
    app = faust.App(
        f"transport-test-{tmp_path.name}",
        broker="kafka://127.0.0.1:1",
        store="memory://",
        autodiscover=False,
        datadir=str(tmp_path),
    )
    app.transport = transport_class(fetch_max_wait_ms, steps)(app.conf.broker_consumer, app)
    return app


async def test_the_worker_consumer_gets_the_bounded_fetch_wait(tmp_path):
    app = _app(tmp_path, fetch_max_wait_ms=80)
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    assert consumer._fetch_max_wait_ms == 80  # faust's own would be 1500


async def test_the_poll_is_capped_and_a_delivered_message_needs_no_wait(tmp_path, monkeypatch):
    app = _app(tmp_path, fetch_max_wait_ms=100)
    consumer = app.consumer
    polls = []

    async def thread_getmany(active_partitions, timeout):  # noqa: ASYNC109 - faust's signature
        polls.append(timeout)
        return {}

    monkeypatch.setattr(consumer._thread, "getmany", thread_getmany)
    await consumer._getmany(set(), timeout=1.0)
    await consumer._getmany(set(), timeout=0.05)
    assert polls == [0.1, 0.05]

    async def never_started():
        raise AssertionError("must not run")

    other = never_started()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        results = await consumer.wait_first(DELIVERED, other)
    assert results.done == [DELIVERED] and not results.stopped
    assert other.cr_frame is None  # closed, not left pending


async def test_the_consumer_reports_its_fetches_and_seeks_of_the_readings_topic(tmp_path, monkeypatch):
    """What SourceProgress needs to step over transaction markers: where the consumer read each reading from."""
    steps = ConsumerSteps("t.readings")
    consumer = _app(tmp_path, steps=steps).consumer
    readings, other = TP("t.readings", 0), TP("t.changelog", 0)
    fetches = [
        {readings: [Record(0), Record(1), Record(2)], other: [Record(0), Record(5)]},
        {readings: [Record(4), Record(5)]},  # offset 3: a commit marker, never delivered
    ]

    async def thread_getmany(active_partitions, timeout):  # noqa: ASYNC109 - faust's signature
        return fetches.pop(0)

    async def thread_seek_wait(partitions):
        return None

    monkeypatch.setattr(consumer._thread, "getmany", thread_getmany)
    monkeypatch.setattr(consumer._thread, "seek_wait", thread_seek_wait)
    await consumer._getmany({readings, other}, timeout=1.0)
    await consumer._getmany({readings}, timeout=1.0)
    assert steps.stepped_from(0, 4) == 3 and steps.stepped_from(0, 5) is None
    await consumer.seek_wait({readings: 1})
    assert steps.seeks(0) == 2  # reported before and after the seek
    fetches.append({readings: [Record(4)]})  # from 1: 1-3 never delivered again (aborted, say)
    await consumer._getmany({readings}, timeout=1.0)
    assert steps.stepped_from(0, 4) == 1


class Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset
