"""The service's send and save path without I/O: fakes stand in for Kafka and PostgreSQL.

- PipelinedSender puts each record on the partition a keyed send would choose, retries a send
  refused before queueing, and surfaces a failed ack.
- Saves run in the background, one at a time; polls finished meanwhile are saved together by the
  next save, always with the state and offsets of fully acknowledged polls, which the save in flight
  starts when it ends (no further poll needed); flush saves the rest.
"""

import asyncio
from datetime import timedelta

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError, UnsupportedVersionError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord
from ingest_support import KEY_ID, METERS, NOW, PLANT, Plant, raw

from epd_connector.signing import generate_private_key
from epd_ingest.registry import meter_from_mapping
from epd_ingest.sender import PipelinedSender
from epd_ingest.service import IngestService
from epd_ingest.state_store import IngestStateStore


class FakeProducer:
    def __init__(self, fail_first: list[Exception] | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes, int]] = []
        self.fail_first = list(fail_first or [])

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    async def send(self, topic, value, key=None, partition=None):
        if self.fail_first:
            raise self.fail_first.pop(0)
        self.sent.append((topic, value, key, partition))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class FakeTopicProducer:
    def __init__(self) -> None:
        self.raw = FakeProducer()


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[dict] = []

    async def commit(self, offsets) -> None:
        self.commits.append(dict(offsets))


class HeldStore(IngestStateStore):
    """Real snapshots; `write` records them and waits until the test lets it finish."""

    def __init__(self, config) -> None:
        super().__init__(pool=None, consumer_group="g", config=config)  # type: ignore[arg-type]
        self.written: list = []
        self.release = asyncio.Event()

    async def write(self, snap) -> None:
        await self.release.wait()
        self.written.append(snap)


async def test_sender_uses_the_keyed_partition_and_retries_before_queueing():
    producer = FakeProducer(fail_first=[NotLeaderForPartitionError()])
    sender = PipelinedSender(producer)  # type: ignore[arg-type]
    await sender.begin(["t"])
    for key in (b"plant-a", b"plant-b", b"plant-a"):
        await sender.send("t", key, b"v")
    await sender.flush()
    expected = [DefaultPartitioner()(k, [0, 1, 2], [0, 1, 2]) for k in (b"plant-a", b"plant-b", b"plant-a")]
    assert [p for *_, p in producer.sent] == expected
    assert sender.in_flight == 0


async def test_sender_raises_non_retriable_send_errors_and_failed_acks():
    sender = PipelinedSender(FakeProducer(fail_first=[UnsupportedVersionError()]))  # type: ignore[arg-type]
    await sender.begin(["t"])
    with pytest.raises(UnsupportedVersionError):
        await sender.send("t", b"k", b"v")
    failed = asyncio.get_running_loop().create_future()
    failed.set_exception(KafkaConnectionError())
    sender._pending.append(failed)
    with pytest.raises(KafkaConnectionError):
        await sender.flush()


def _poll(plant: Plant, offset: int, minute: int) -> dict:
    value = plant.bytes(raw("roasting.coal", "1", "t", at=NOW - timedelta(minutes=minute)))
    rec = ConsumerRecord("raw", 0, offset, 0, 0, b"k", value, None, len(b"k"), len(value), [])
    return {TopicPartition("raw", 0): [rec]}


def _held_service(plant: Plant) -> tuple[HeldStore, FakeConsumer, FakeTopicProducer, IngestService]:
    """An ingest service over a store whose saves wait for `store.release`."""
    store, consumer, producer = HeldStore(plant.config), FakeConsumer(), FakeTopicProducer()
    service = IngestService(
        consumer,
        producer,
        plant.registry,
        store,
        config=plant.config,  # type: ignore[arg-type]
        clock=lambda: NOW,
    )
    service.state = plant.state
    return store, consumer, producer, service


async def test_saves_coalesce_while_one_is_in_flight_and_flush_saves_the_rest(plant: Plant):
    store, consumer, producer, service = _held_service(plant)
    await service.handle(_poll(plant, 0, 30))  # save 1 starts and is held
    await service.handle(_poll(plant, 1, 20))
    await service.handle(_poll(plant, 2, 10))
    assert store.written == [] and service.accepted == 3 and len(producer.raw.sent) == 3
    store.release.set()
    await service.flush()
    first, second = store.written
    assert (first.offsets, first.evidence.count) == ({0: 1}, 1)
    assert (second.offsets, second.evidence.count) == ({0: 3}, 2)  # polls 2 and 3 in one save
    assert [r[2] for r in second.evidence.rows()] == ["roasting.coal", "roasting.coal"] and len(second.batches) == 2
    # Kafka offsets are committed only after their save, and never ahead of it.
    assert consumer.commits == [{TopicPartition("raw", 0): 1}, {TopicPartition("raw", 0): 3}]
    await service.flush()  # nothing left: no empty save
    assert len(store.written) == 2 and (PLANT, "roasting.coal") in {(p, m) for p, m, *_ in second.meter_rows}


def _service_with_refresh(plant: Plant, reloads: list, new_key, fail: bool = False) -> IngestService:
    async def refresh() -> None:  # what PgPlantRegistry.refresh does once the key row exists
        reloads.append(1)
        if fail:
            raise OSError("database unreachable")
        plant.registry.register(
            PLANT, {KEY_ID: plant.key.public_key(), "k2": new_key.public_key()}, [meter_from_mapping(m) for m in METERS]
        )

    service = IngestService(
        FakeConsumer(),
        FakeTopicProducer(),
        plant.registry,
        HeldStore(plant.config),
        config=plant.config,  # type: ignore[arg-type]
        refresh_registry=refresh,
        refresh_seconds=3600,
        clock=lambda: NOW,
    )  # type: ignore[arg-type]
    service.state = plant.state
    service._store.release.set()  # type: ignore[attr-defined]  # saves complete at once here
    return service


def _signed_poll(plant: Plant, offset: int, key_id: str, key) -> dict:
    value = plant.bytes(raw("roasting.coal", "1", "t", at=NOW - timedelta(minutes=offset)), key=key, key_id=key_id)
    rec = ConsumerRecord("raw", 0, offset, 0, 0, b"k", value, None, len(b"k"), len(value), [])
    return {TopicPartition("raw", 0): [rec]}


async def test_a_batch_of_a_key_registered_a_moment_ago_reloads_the_registry_once(plant: Plant):
    """The new key's announcement has not arrived: its batch is refused by the old snapshot, which reloads
    the registry and validates the batch again, so it is accepted; more unknown keys within
    UNKNOWN_KEY_REFRESH_SECONDS do not reload again and are refused."""
    new_key, reloads = generate_private_key(), []
    service = _service_with_refresh(plant, reloads, new_key)
    producer = service._producer.raw  # type: ignore[attr-defined]

    await service.handle(_signed_poll(plant, 1, KEY_ID, plant.key))
    assert reloads == [] and service.accepted == 1  # a known key reloads nothing
    await service.handle(_signed_poll(plant, 2, "k2", new_key))
    assert reloads == [1] and service.accepted == 2
    assert [t for t, *_ in producer.sent] == [service.readings_topic] * 2
    await service.handle(_signed_poll(plant, 3, "k3", generate_private_key()))
    assert reloads == [1] and service.accepted == 2  # rate-limited: refused without a reload
    assert [t for t, *_ in producer.sent][2:] == [service.rejected_topic]  # the refusal went out, once
    await service.flush()


async def test_batches_of_known_signers_parse_each_envelope_once_and_never_reload(plant: Plant, monkeypatch):
    """The steady state pays nothing for the unknown-key reload: one envelope parse per record (the
    validation's own), no registry reload, however long since the last one."""
    import epd_ingest.pipeline as pipeline

    parses = []
    real = pipeline.parse_envelope

    def counting(payload, limits):
        parses.append(1)
        return real(payload, limits)

    monkeypatch.setattr(pipeline, "parse_envelope", counting)
    reloads: list = []
    service = _service_with_refresh(plant, reloads, generate_private_key())
    for offset in range(1, 4):
        await service.handle(_signed_poll(plant, offset, KEY_ID, plant.key))
    assert (len(parses), reloads, service.accepted) == (3, [], 3)
    await service.flush()


async def test_a_failed_reload_keeps_the_refusal_and_the_previous_snapshot(plant: Plant):
    reloads: list = []
    service = _service_with_refresh(plant, reloads, generate_private_key(), fail=True)
    await service.handle(_signed_poll(plant, 1, "k2", generate_private_key()))
    assert reloads == [1] and service.accepted == 0
    await service.handle(_signed_poll(plant, 2, KEY_ID, plant.key))  # the old snapshot still works
    assert reloads == [1] and service.accepted == 1
    await service.flush()


async def test_a_polls_readings_of_one_plant_go_out_as_one_reading_batch_keyed_by_the_plant(plant: Plant):
    """Three raw batches in one poll, one of them carrying a refused reading: the accepted readings leave
    as one ReadingBatch record, in the order of the raw records, each exactly as the pipeline made it
    (ids and hashes), and the refusal as its own record on the rejected topic."""
    from epd.v1 import telemetry_pb2
    from epd_common.reading_batches import unpack
    from epd_ingest.pipeline import IngestState, process_batch

    values = [
        plant.bytes(raw("roasting.coal", "1", "t", at=NOW - timedelta(minutes=30))),
        plant.bytes(
            raw("roasting.coal", "2", "t", at=NOW - timedelta(minutes=20)),
            raw("no-such-meter", "2", "t", at=NOW - timedelta(minutes=20)),
        ),
        plant.bytes(raw("roasting.coal", "3", "t", at=NOW - timedelta(minutes=10))),
    ]
    expected_state = IngestState.for_config(plant.config)
    expected = [r for v in values for r in process_batch(v, plant.registry, expected_state, NOW, plant.config).accepted]
    records = [ConsumerRecord("raw", 0, i, 0, 0, b"k", v, None, 1, len(v), []) for i, v in enumerate(values)]
    store, producer = HeldStore(plant.config), FakeTopicProducer()
    store.release.set()
    service = IngestService(FakeConsumer(), producer, plant.registry, store, config=plant.config, clock=lambda: NOW)  # type: ignore[arg-type]
    service.state = plant.state
    await service.handle({TopicPartition("raw", 0): records})
    await service.flush()
    sent = producer.raw.sent
    readings = [(v, k) for t, v, k, _ in sent if t == service.readings_topic]
    rejected = [telemetry_pb2.RejectedReading.FromString(v) for t, v, _, _ in sent if t == service.rejected_topic]
    assert len(readings) == 1 and readings[0][1] == PLANT.encode()
    unpacked = unpack(readings[0][0])
    assert unpacked.readings == expected and len(expected) == 3
    assert telemetry_pb2.ReadingBatch.FromString(readings[0][0]).plant_id == PLANT
    assert [r.reason for r in rejected] == [telemetry_pb2.REJECTION_REASON_UNKNOWN_METER]
    assert service.accepted == 3 and store.written[0].evidence.count == 3  # one evidence row per reading


async def test_polls_handled_during_a_save_are_saved_and_committed_when_it_ends_without_another_poll(plant: Plant):
    store, consumer, _producer, service = _held_service(plant)
    await service.handle(_poll(plant, 0, 30))  # save 1 starts and is held
    await service.handle(_poll(plant, 1, 20))  # handled while save 1 is held; then the input goes idle
    saving = service._saving
    assert saving is not None
    store.release.set()
    await saving  # the save in flight takes the second poll itself, with no handle or flush
    assert [s.offsets for s in store.written] == [{0: 1}, {0: 2}]
    assert consumer.commits == [{TopicPartition("raw", 0): 1}, {TopicPartition("raw", 0): 2}]
    assert [s.evidence.count for s in store.written] == [1, 1]
