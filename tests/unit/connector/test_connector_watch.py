"""The connector's sender watch: it ends at stop (the sender keeps draining the spool afterwards) and
reports a sender failure while the connector runs."""

from __future__ import annotations

import asyncio

import pytest

from epd_connector.__main__ import watch
from epd_connector.errors import ConnectorError


async def test_the_watch_ends_at_stop_while_the_sender_goes_on():
    stop, sender_stop = asyncio.Event(), asyncio.Event()
    sender = asyncio.create_task(sender_stop.wait())
    watcher = asyncio.create_task(watch(sender, stop))
    await asyncio.sleep(0)
    stop.set()
    await watcher  # returns although the sender is still running
    assert not sender.done()
    sender_stop.set()
    await sender


async def test_a_sender_failure_is_raised():
    async def broken() -> None:
        raise OSError("broker unreachable")

    with pytest.raises(OSError, match="broker unreachable"):
        await watch(asyncio.create_task(broken()), asyncio.Event())


async def test_a_sender_that_ends_while_running_is_a_failure():
    async def ends() -> None:
        return None

    with pytest.raises(ConnectorError, match="sender ended"):
        await watch(asyncio.create_task(ends()), asyncio.Event())
