"""How every service runs: until SIGTERM or SIGINT, or until the first of its tasks fails.

A composition root builds its parts, then hands its long-running coroutines to `run_tasks`: they
run side by side; a stop signal ends them all (each sees `stop` set and drains), and the first
task that fails or returns early ends the rest too and re-raises, so the process exits non-zero
and its supervisor restarts it instead of leaving a half-working service.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from epd_common.errors import CommonError

log = logging.getLogger(__name__)


class TaskEnded(CommonError):
    """A long-running task returned although nothing asked it to stop."""


def stop_on_signals(stop: asyncio.Event) -> None:
    """Inside a running loop: SIGTERM and SIGINT set `stop` (the service then drains and exits);
    SIGUSR1 logs where every task is waiting (`log_task_stacks`) and changes nothing."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, log_task_stacks)


def log_task_stacks() -> None:
    """Log each asyncio task's name and the chain of coroutines it is suspended in, outermost first
    down to the awaited future: for a service that stopped making progress without failing
    (`kill -USR1 <pid>`), where it waits. A thread dump would only show the event loop idle in
    select(), and `Task.print_stack` shows only a task's outermost coroutine."""
    tasks = asyncio.all_tasks()
    for task in sorted(tasks, key=lambda t: t.get_name()):
        log.warning("task %s (%d tasks):\n%s", task.get_name(), len(tasks), "\n".join(await_chain(task.get_coro())))


def await_chain(coro: object, limit: int = 40) -> list[str]:
    """`file:line in function` for each coroutine or generator `coro` awaits, and what the last awaits."""
    lines: list[str] = []
    while coro is not None and len(lines) < limit:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            lines.append(f"  awaiting {coro!r:.300}")
            break
        code = frame.f_code
        lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    return lines


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """asyncio.run `serve(stop)`, where `stop` is set by SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await serve(stop)

    asyncio.run(main())


async def run_tasks(
    tasks: Mapping[str, Coroutine[Any, Any, Any]], stop: asyncio.Event, *, drain_seconds: float = 30.0
) -> None:
    """Run named coroutines until `stop` is set or one of them ends; then stop the others.

    On `stop` every task gets `drain_seconds` to finish by itself (they watch `stop`), then it is
    cancelled. A task that raised is re-raised (the first one, by completion order); a task that
    returned while `stop` was not set raises TaskEnded naming it."""
    running = {asyncio.create_task(coro, name=name): name for name, coro in tasks.items()}
    stopper = asyncio.create_task(stop.wait(), name="stop")
    failure: BaseException | None = None
    try:
        done, _ = await asyncio.wait([*running, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is stopper:
                continue
            name = running[task]
            if task.cancelled():
                failure = TaskEnded(f"task {name} was cancelled")
            elif task.exception() is not None:
                failure = task.exception()
                log.error("task %s failed; stopping the service", name, exc_info=failure)
            elif not stop.is_set():
                failure = TaskEnded(f"task {name} ended although the service was not stopping")
            break
    finally:
        stop.set()
        stopper.cancel()
        pending = [t for t in running if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=drain_seconds)
            for task in late:
                log.warning("task %s did not drain in %.0f s; cancelled", running[task], drain_seconds)
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for task in running:  # later failures are logged by their tasks; mark them retrieved
            if task.done() and not task.cancelled():
                task.exception()
    if failure is not None:
        raise failure
