"""Run a service's coroutine until SIGTERM or SIGINT: the one stop path of every composition root."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


def stop_on_signals(stop: asyncio.Event) -> None:
    """Inside a running loop: SIGTERM and SIGINT set `stop` (the service then drains and exits)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """asyncio.run `serve(stop)`, where `stop` is set by SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await serve(stop)

    asyncio.run(main())
