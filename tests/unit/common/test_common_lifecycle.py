"""run_tasks: a service runs until it is stopped or the first of its tasks fails; SIGUSR1 says where its
tasks wait."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from epd_common import lifecycle
from epd_common.lifecycle import TaskEnded, run_tasks


async def until(stop: asyncio.Event, log: list[str], name: str) -> None:
    await stop.wait()
    log.append(f"{name} drained")


async def test_stop_drains_every_task():
    stop, log = asyncio.Event(), []
    runner = asyncio.create_task(run_tasks({"a": until(stop, log, "a"), "b": until(stop, log, "b")}, stop))
    await asyncio.sleep(0)
    stop.set()
    await runner
    assert sorted(log) == ["a drained", "b drained"]


async def test_the_first_failure_stops_the_others_and_is_raised():
    stop, log = asyncio.Event(), []

    async def broken() -> None:
        raise ValueError("broker gone")

    with pytest.raises(ValueError, match="broker gone"):
        await run_tasks({"worker": until(stop, log, "worker"), "broken": broken()}, stop)
    assert log == ["worker drained"] and stop.is_set()


async def test_a_task_that_returns_early_is_a_failure():
    stop = asyncio.Event()

    async def quits() -> None:
        return None

    with pytest.raises(TaskEnded, match="quits"):
        await run_tasks({"quits": quits(), "other": until(stop, [], "other")}, stop)


async def test_a_task_that_does_not_drain_is_cancelled():
    stop = asyncio.Event()
    cancelled = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()  # ignores stop
        except asyncio.CancelledError:
            cancelled.set()
            raise

    runner = asyncio.create_task(run_tasks({"stubborn": stubborn()}, stop, drain_seconds=0.01))
    await asyncio.sleep(0)
    stop.set()
    await runner
    assert cancelled.is_set()


async def test_sigusr1_logs_where_each_task_waits_and_stops_nothing(caplog):
    stop, gate = asyncio.Event(), asyncio.Event()

    async def waits_for_an_ack_that_never_comes() -> None:
        await gate.wait()

    async def poll_loop() -> None:
        await waits_for_an_ack_that_never_comes()

    stuck = asyncio.create_task(poll_loop(), name="poll-loop")
    await asyncio.sleep(0)
    lifecycle.stop_on_signals(stop)
    try:
        with caplog.at_level(logging.WARNING, logger="epd_common.lifecycle"):
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(100):  # the loop runs the handler on its next iteration
                if "poll-loop" in caplog.text:
                    break
                await asyncio.sleep(0.01)
        assert "task poll-loop" in caplog.text
        dump = caplog.text.split("task poll-loop", 1)[1].split("WARNING", 1)[0]  # its own entry
        # the whole chain, outermost first: the task's coroutine, the one it awaits, Event.wait, its future
        chain = ["in poll_loop", "in waits_for_an_ack_that_never_comes", "in wait", "awaiting"]
        positions = [dump.index(part) for part in chain]
        assert positions == sorted(positions), dump
        assert not stop.is_set() and not stuck.done()
    finally:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            loop.remove_signal_handler(sig)
        stuck.cancel()
