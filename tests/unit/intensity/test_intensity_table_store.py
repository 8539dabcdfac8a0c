"""TableStore (the processor's store over a faust table): writes go to the chosen changelog partition
and `durable()` returns only once the broker acknowledged every one of them.

The agent awaits `durable()` before faust may ack (and commit) the batch's readings; faust's own
flush before its commit can return with changelog writes still buffered (table_store.py). A fake
table stands in for faust's (no I/O): its `send_changelog` returns a future per write, as faust's does.
"""

import asyncio

import pytest

from epd_intensity.app.table_store import TableStore


class FakeTable:
    def __init__(self):
        self.data = {}
        self.sent = []  # (partition, key, value, future)

    def send_changelog(self, partition, key, value, value_serializer=None):
        future = asyncio.get_running_loop().create_future()
        self.sent.append((partition, key, value, future))
        return future


async def test_durable_waits_for_every_changelog_acknowledgement():
    table = FakeTable()
    store = TableStore(table)
    store.select_partition(3)
    store["b|x"] = {"v": 1}
    store["p|plant"] = {"offsets": {"3": 9}}
    del store["b|x"]
    assert [(p, k, v) for p, k, v, _ in table.sent] == [(3, "b|x", {"v": 1}), (3, "p|plant", {"offsets": {"3": 9}}),
                                                         (3, "b|x", None)]
    assert store.get("p|plant") == {"offsets": {"3": 9}} and "b|x" not in store
    waiting = asyncio.ensure_future(store.durable())
    for _, _, _, future in table.sent[:2]:
        future.set_result(None)
    await asyncio.sleep(0)
    assert not waiting.done()  # the deletion is not acknowledged yet
    table.sent[2][3].set_result(None)
    await asyncio.wait_for(waiting, 1)
    await asyncio.wait_for(store.durable(), 1)  # nothing left: returns at once


async def test_a_failed_changelog_write_fails_the_batch():
    table = FakeTable()
    store = TableStore(table)
    store.select_partition(0)
    store["p|plant"] = {}
    table.sent[0][3].set_exception(RuntimeError("broker gone"))
    with pytest.raises(RuntimeError, match="broker gone"):
        await store.durable()


def test_a_write_without_a_chosen_partition_is_refused():
    store = TableStore(FakeTable())
    with pytest.raises(RuntimeError, match="no changelog partition"):
        store["p|plant"] = {}
