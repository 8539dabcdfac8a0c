"""faust's aiokafka transport, with two changes that decide the worker's throughput.

1. A bounded fetch wait (faust hard-codes `fetch_max_wait_ms=1500`). Why it matters: aiokafka's
fetcher sends at most one fetch request per broker at a time, and it does not ask again for a
partition whose fetched records are still being processed. Once those records are older than its
prefetch backoff (0.1 s), the fetcher long-polls the broker for the OTHER, idle partitions of that
broker (readings are keyed by plant: most partitions of a worker can be idle). The broker holds
that poll for the fetch wait, and the busy partition's next chunk cannot be requested until it
returns. With faust's 1.5 s the worker stalled after every fetched chunk: a backlog drained at
~6,500 readings/s even with an agent that did nothing. The wait bounds that stall; the price is
one empty poll per wait per idle worker.

2. Eager delivery of each fetched message. faust's fetch loop hands every message to the
conductor through `wait_first(callback(message), suspend_flow.wait())`, which starts four tasks
(the delivery, the suspend flag, the service's stop and crash flags) and an `asyncio.wait` per
message: more than half of a do-nothing agent's cost. Almost always the delivery finishes without
suspending (the stream's queue has room, flow is not suspended). So the delivery runs its first
step at once (`eager`): if that finishes it, the fetch loop only yields to the event loop once
(so the stream takes the message, as with faust's wait) and moves on; if it suspends (queue full,
flow control, rebalance), the rest of it is handed to faust's `wait_first` unchanged, with the
same abandon-on-suspend behaviour as before.

3. A poll no longer than the fetch wait. faust leaves a partition whose stream buffer is full out
of its poll and polls the others for 1 s; with eager delivery the buffer does fill, and the
worker then idled for the rest of that second after the buffer had drained.

Measured with `make bench` (the intensity row); the project-wide consumer default in
epd_common.kafka has the fetch wait for the same reason.

4. The consumer's steps (consumer_steps.py): every fetched batch of the readings topic and every seek is
reported to ``ConsumerSteps``, so the worker knows when the consumer stepped over offsets it never
delivers (transaction markers) and does not wait for them. A seek is reported before and after it is
made, so any fetch it overlaps is not trusted for where it started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from typing import Any, cast

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode.services import WaitResults

from .consumer_steps import ConsumerSteps


class _Delivered:
    """What an eager delivery returns when it already finished: awaiting it does nothing."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


DELIVERED = _Delivered()


def eager(callback: Callable[[Any], Coroutine[Any, Any, Any]]) -> Callable[[Any], Awaitable[Any]]:
    """Wrap an async callback: each call runs the coroutine's first step now; returns DELIVERED
    when that finished it, else a coroutine that runs the rest (exceptions of the first step are
    raised at the call, as faust's loop would have raised them from its wait)."""

    def deliver(message: Any) -> Awaitable[Any]:
        coro = callback(message)
        try:
            awaited = coro.send(None)
        except StopIteration:
            return DELIVERED
        return _rest(coro, awaited)

    return deliver


async def _rest(coro: Coroutine[Any, Any, Any], awaited: Any) -> Any:
    """Drive a coroutine that suspended on `awaited` in its first step, as its Task would have:
    wait for the future, resume; a cancellation is thrown into the coroutine, then re-raised."""
    while True:
        try:
            if awaited is None:  # a bare yield (asyncio.sleep(0))
                await asyncio.sleep(0)
            else:
                awaited._asyncio_future_blocking = False  # what Task does with a yielded future
                await asyncio.wait((awaited,))
        except asyncio.CancelledError:
            if awaited is not None:
                awaited.cancel()
            try:
                coro.throw(asyncio.CancelledError())
            except (StopIteration, asyncio.CancelledError):
                pass
            else:
                coro.close()
            raise
        try:
            awaited = coro.send(None)
        except StopIteration as done:
            return done.value


def transport_class(fetch_max_wait_ms: int, steps: ConsumerSteps | None = None) -> type[faust_aiokafka.Transport]:
    """A faust Transport whose worker consumer waits at most `fetch_max_wait_ms` per fetch and reports
    its fetches and seeks of `steps.topic` to `steps`."""
    poll_s = fetch_max_wait_ms / 1000

    def tracked(tp: Any) -> bool:
        return steps is not None and tp.topic == steps.topic

    def mark(partitions: Mapping[Any, int | None]) -> None:
        assert steps is not None
        for tp, offset in partitions.items():
            if tracked(tp):
                steps.sought(tp.partition, offset)

    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            # The only way in: faust builds the AIOKafkaConsumer with the literal 1500, and the
            # consumer hands this attribute to its Fetcher at start(). Fail loudly if that changes.
            if not hasattr(consumer, "_fetch_max_wait_ms"):
                raise RuntimeError("aiokafka changed: AIOKafkaConsumer has no _fetch_max_wait_ms")
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # The conductor's on_message, called per message; an async def (faust types it as returning Awaitable).
            on_message = cast(Callable[[Any], Coroutine[Any, Any, Any]], self.callback)
            self.callback = eager(on_message)

        def _new_consumer_thread(self) -> ConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def _getmany(self, active_partitions: Any, timeout: float) -> Any:  # noqa: ASYNC109 - faust's signature
            # faust polls for 1 s; while a partition's stream buffer is full, faust leaves it out
            # of the poll, so the poll of the remaining (idle) partitions ran its whole second
            # after the buffer had drained: the worker sat idle. Poll no longer than the fetch wait.
            if steps is None:
                return await super()._getmany(active_partitions, min(timeout, poll_s))
            before = {tp.partition: steps.seeks(tp.partition) for tp in active_partitions or () if tracked(tp)}
            records = await super()._getmany(active_partitions, min(timeout, poll_s))
            for tp, batch in records.items():
                if batch and tracked(tp):
                    steps.fetched(tp.partition, (r.offset for r in batch), before.get(tp.partition, -1))
            return records

        async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
            if steps is None:
                return await super().seek_wait(partitions)
            mark(partitions)  # before and after: a fetch the seek overlaps is not trusted
            await super().seek_wait(partitions)
            mark(partitions)

        async def _seek(self, partition: TP, offset: int) -> None:
            if steps is None:
                return await super()._seek(partition, offset)
            mark({partition: offset})
            await super()._seek(partition, offset)
            mark({partition: offset})

        async def seek_to_committed(self) -> Mapping[TP, int]:
            if steps is None:
                return await super().seek_to_committed()
            steps.forget()
            committed = await super().seek_to_committed()
            mark({tp: offset if offset is not None and offset >= 0 else None for tp, offset in committed.items()})
            return committed

        async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109 - mode's signature
            if coros and coros[0] is DELIVERED:  # the fetch loop's per-message wait, already done
                for other in coros[1:]:
                    if asyncio.iscoroutine(other):
                        other.close()  # never started (suspend_flow.wait())
                await asyncio.sleep(0)  # let the stream take the message, as faust's wait did
                return WaitResults([DELIVERED], [None], False)
            return await super().wait_first(*coros, timeout=timeout)

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport
