"""TableStore (the processor's store over a faust table): writes go to the chosen changelog partition
and `durable()` returns only once the broker acknowledged every one of them.

Writes are queued in order and sent by `durable()`, which the agent awaits at the end of each batch.
A fake table and sender stand in for faust's (no I/O): the sender returns a future per write, as
faust's producer does.
"""

import asyncio

import pytest

from epd_intensity.app.table_store import TableStore


class FakeTable:
    def __init__(self):
        self.data = {}
        self.sent = []  # (partition, key, value, future)

    async def send(self, partition, key, value):
        future = asyncio.get_running_loop().create_future()
        self.sent.append((partition, key, value, future))
        return future


async def test_durable_sends_the_queued_writes_in_order_and_waits_for_every_acknowledgement():
    table = FakeTable()
    store = TableStore(table, table.send)
    store.select_partition(3)
    store["b|x"] = {"v": 1}
    store["p|plant"] = {"offsets": {"3": 9}}
    del store["b|x"]
    assert store.get("p|plant") == {"offsets": {"3": 9}} and "b|x" not in store  # memory at once
    assert table.sent == []  # the changelog only when the batch asks for durability
    waiting = asyncio.ensure_future(store.durable())
    await asyncio.sleep(0)
    assert [(p, k, v) for p, k, v, _ in table.sent] == [
        (3, "b|x", {"v": 1}),
        (3, "p|plant", {"offsets": {"3": 9}}),
        (3, "b|x", None),
    ]
    for _, _, _, future in table.sent[:2]:
        future.set_result(None)
    await asyncio.sleep(0)
    assert not waiting.done()  # the deletion is not acknowledged yet
    table.sent[2][3].set_result(None)
    await asyncio.wait_for(waiting, 1)
    await asyncio.wait_for(store.durable(), 1)  # nothing left: returns at once
    assert len(table.sent) == 3


async def test_a_failed_changelog_write_fails_the_batch():
    table = FakeTable()
    store = TableStore(table, table.send)
    store.select_partition(0)
    store["p|plant"] = {}
    waiting = asyncio.ensure_future(store.durable())
    await asyncio.sleep(0)
    table.sent[0][3].set_exception(RuntimeError("broker gone"))
    with pytest.raises(RuntimeError, match="broker gone"):
        await waiting


def test_a_write_without_a_chosen_partition_is_refused():
    store = TableStore(FakeTable(), FakeTable().send)
    with pytest.raises(RuntimeError, match="no changelog partition"):
        store["p|plant"] = {}


async def test_the_changelog_sender_writes_what_faust_recovers(tmp_path):
    """Keys and values serialized by the table's own codecs (json), a deletion as a tombstone, to
    the table's changelog topic and the chosen partition."""
    from types import SimpleNamespace

    import faust

    from epd_intensity.app.table_store import changelog_sender

    app = faust.App(
        f"sender-test-{tmp_path.name}",
        broker="kafka://127.0.0.1:1",
        store="memory://",
        autodiscover=False,
        datadir=str(tmp_path),
    )
    table = app.Table(
        "state", default=None, partitions=4, schema=faust.Schema(key_serializer="json", value_serializer="json")
    )
    sent = []

    async def producer_send(topic, key, value, partition, timestamp, headers):
        sent.append((topic, key, value, partition))
        return asyncio.get_running_loop().create_future()

    send = changelog_sender(
        SimpleNamespace(serializers=app.serializers, producer=SimpleNamespace(send=producer_send)), table
    )
    await send(2, "p|plant", {"offsets": {"2": 7}})
    await send(2, "b|x", None)
    topic = table.changelog_topic.get_topic_name()
    assert sent == [(topic, b'"p|plant"', b'{"offsets":{"2":7}}', 2), (topic, b'"b|x"', None, 2)]
    # faust reads them back with the same codecs
    assert app.serializers.loads_key(None, sent[0][1], serializer="json") == "p|plant"
    assert app.serializers.loads_value(None, sent[0][2], serializer="json") == {"offsets": {"2": 7}}
