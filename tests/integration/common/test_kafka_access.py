"""The secured broker refuses what its grants do not allow (issue 14 item 1), on the real local cluster:
no principal, a wrong password, a service outside its grants, a registry's read-only principal made
with `epd kafka grant-subscriber` and removed with `epd kafka revoke`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from epd.v1 import footprint_pb2
from epd_common import topics
from epd_common.kafka import KafkaConnection, TopicProducer, make_admin, make_consumer, make_producer

REFUSED = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)
# A principal with no write grant at all is refused its producer id (the idempotent producer's first request).
WRITE_REFUSED = (TopicAuthorizationFailedError, ClusterAuthorizationFailedError)


def epd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "epd_cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def granted(stack, topic_prefix):
    """The topics under this test's prefix, with every service principal granted on them."""
    cluster = stack["kafka"]
    cluster.provision(topic_prefix)
    return cluster


async def produce(connection: KafkaConnection, spec, message, prefix: str) -> None:
    producer = make_producer(connection, request_timeout_ms=10000)
    try:
        await producer.start()
        await (await TopicProducer(producer, enqueue_timeout_s=5).send(spec, "k", message, topic=spec.topic(prefix)))
    finally:
        await producer.stop()


async def read_one(connection: KafkaConnection, topic: str, group: str | None = None) -> bytes:
    """The first record of the topic's 3 partitions (with a group: committed under it)."""
    consumer = AIOKafkaConsumer(**connection.client_kwargs(), group_id=group, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        async with asyncio.timeout(30):
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    if group is not None:
                        await consumer.commit()
                    return records[0].value
    finally:
        await consumer.stop()


async def group_offsets(connection: KafkaConnection, group: str) -> dict:
    """What a member of `group` asks first (its coordinator, its committed offsets): a principal without
    the group grant is refused here. (aiokafka's consumer retries such a refusal without end.)"""
    admin = make_admin(connection)
    await admin.start()
    try:
        return await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()


async def visible(connection: KafkaConnection, topic: str) -> bool:
    """Whether the broker shows the principal the topic at all: without DESCRIBE its metadata answer is
    TOPIC_AUTHORIZATION_FAILED (and aiokafka's consumer waits for a leader without end)."""
    admin = make_admin(connection)
    await admin.start()
    try:
        (answer,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert answer["error_code"] in (0, TopicAuthorizationFailedError.errno), answer
    return answer["error_code"] == 0


async def test_a_client_without_a_principal_or_with_a_wrong_password_is_refused(granted):
    plaintext = KafkaConnection(granted.bootstrap, "PLAINTEXT")
    wrong = granted.connection("epd-connector").as_user("epd-connector", "not-the-password-at-all")
    for connection in (plaintext, wrong):
        producer = make_producer(connection, request_timeout_ms=5000)
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()


async def test_each_service_writes_and_reads_only_its_own_topics(granted, topic_prefix):
    reading = footprint_pb2.FootprintChanged(product_id="p1", product_sequence=1)
    connector, ingest = granted.connection("epd-connector"), granted.connection("epd-ingest")
    # The connector writes raw telemetry, and nothing else; it cannot read what it wrote.
    await produce(connector, topics.TELEMETRY_RAW, topics.TELEMETRY_RAW.message_type(plant_id="p1"), topic_prefix)
    for spec in (topics.TELEMETRY_READINGS, topics.INTENSITY_WINDOWS, topics.FOOTPRINT_CHANGES):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(connector, spec, spec.message_type(), topic_prefix)
    with pytest.raises(REFUSED):
        await read_one(connector, topics.TELEMETRY_RAW.topic(topic_prefix))
    # Ingest reads raw in its own group, and may not read in another's or forge a footprint change.
    assert await read_one(ingest, topics.TELEMETRY_RAW.topic(topic_prefix), group=f"{topic_prefix}epd-ingest")
    with pytest.raises(GroupAuthorizationFailedError):
        await group_offsets(ingest, f"{topic_prefix}epd-publisher")
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(ingest, topics.FOOTPRINT_CHANGES, reading, topic_prefix)
    # Only the publisher writes the change feed; the footprint service only reads windows.
    await produce(granted.connection("epd-publisher"), topics.FOOTPRINT_CHANGES, reading, topic_prefix)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(granted.connection("epd-footprint"), topics.FOOTPRINT_CHANGES, reading, topic_prefix)


async def test_a_subscriber_reads_the_change_feed_and_nothing_else_until_revoked(granted, topic_prefix, unique):
    name = f"registry-{unique[:8]}"
    admin_env = granted.env()
    made = epd("kafka", "grant-subscriber", name, "--json", env={**admin_env, "EPD_TOPIC_PREFIX": topic_prefix})
    assert made.returncode == 0, made.stdout + made.stderr
    secret = json.loads(made.stdout)
    assert secret["username"] == name and len(secret["password"]) >= 24
    subscriber = granted.connection().as_user(name, secret["password"])

    change = footprint_pb2.FootprintChanged(product_id="p1", product_sequence=7)
    await produce(granted.connection("epd-publisher"), topics.FOOTPRINT_CHANGES, change, topic_prefix)
    feed = topics.FOOTPRINT_CHANGES.topic(topic_prefix)
    assert topics.FOOTPRINT_CHANGES.decode(await read_one(subscriber, feed, group=f"{name}-mirror")) == change
    # Read-only: no forged change, no readings, no other group names.
    with pytest.raises(WRITE_REFUSED):
        await produce(subscriber, topics.FOOTPRINT_CHANGES, change, topic_prefix)
    assert await visible(subscriber, feed)
    assert not await visible(subscriber, topics.TELEMETRY_READINGS.topic(topic_prefix))
    assert await group_offsets(subscriber, f"{name}-mirror")  # its own group, with the offset it committed
    with pytest.raises(GroupAuthorizationFailedError):
        await group_offsets(subscriber, f"{topic_prefix}epd-publisher")

    listed = epd("kafka", "acls", "--principal", name, env=admin_env)
    assert listed.returncode == 0 and f"User:{name} READ TOPIC {feed}" in listed.stdout, listed.stdout

    revoked = epd("kafka", "revoke", name, env=admin_env)
    assert revoked.returncode == 0 and "password removed, 5 ACLs deleted" in revoked.stdout, revoked.stdout
    consumer = make_consumer(subscriber, None, feed, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await consumer.start()
    await consumer.stop()
    assert epd("kafka", "acls", "--principal", name, env=admin_env).stdout.strip() == ""


@pytest.mark.parametrize("name", ["epd-ingest", "User:*", "*", "a", "../x", "Registry", "x" * 64, "reg;istry"])
def test_grant_subscriber_refuses_names_that_are_not_a_registrys(granted, name):
    made = epd("kafka", "grant-subscriber", name, env=granted.env())
    assert made.returncode == 1 and "is not a subscriber name" in " ".join(made.stdout.split()), made.stdout


def test_a_service_principal_cannot_grant(granted):
    """`epd kafka` as a service principal: the broker refuses, the command says so (no traceback)."""
    made = epd("kafka", "grant-subscriber", "registry-x", env=granted.env("epd-publisher"))
    assert made.returncode == 1 and "Kafka refused" in " ".join(made.stdout.split()), made.stdout + made.stderr


async def test_acls_lists_grants_made_by_hand_outside_the_table(granted, unique):
    """An operator's own ACL (here IDEMPOTENT_WRITE on the cluster) is listed, not a crash."""
    from epd_common.kafka_access import Grant, KafkaAccess, Operation, Pattern, ResourceType

    name = f"hand-{unique[:8]}"
    async with KafkaAccess(granted.connection()) as access:
        await access.grant(
            [Grant(name, ResourceType.CLUSTER, "kafka-cluster", Pattern.LITERAL, Operation.IDEMPOTENT_WRITE)]
        )
    listed = epd("kafka", "acls", "--principal", name, env=granted.env())
    assert listed.returncode == 0 and f"User:{name} IDEMPOTENT_WRITE CLUSTER kafka-cluster" in listed.stdout, listed
    assert epd("kafka", "revoke", name, env=granted.env()).returncode == 0


async def end_offsets(connection: KafkaConnection, topic: str) -> dict[int, int]:
    """The partitions' high watermarks (ListOffsets, no group): what the lag is measured against."""
    consumer = AIOKafkaConsumer(**connection.client_kwargs(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def listed_groups(connection: KafkaConnection) -> set[str]:
    """The groups the broker lists the principal (ListGroups), each of which it may describe (DescribeGroups)."""
    admin = make_admin(connection)
    await admin.start()
    try:
        names = {group[0] for group in await admin.list_consumer_groups()}
        for name in names:
            (described,) = [g.to_object() for g in await admin.describe_consumer_groups([name])]
            assert [g["error_code"] for g in described["groups"]] == [0], described
        return names
    finally:
        await admin.close()


async def test_the_lag_exporter_sees_group_offsets_and_high_watermarks_and_reads_and_writes_nothing(
    granted, topic_prefix, unique
):
    """What k8s/base/kafka-lag-exporter.yaml's principal needs for kafka_consumergroup_lag (ListGroups,
    OffsetFetch, ListOffsets) and nothing more: no record read, none produced, no other group's offsets."""
    raw = topics.TELEMETRY_RAW.topic(topic_prefix)
    group = f"{topic_prefix}epd-ingest"
    for plant in ("p1", "p2"):
        message = topics.TELEMETRY_RAW.message_type(plant_id=plant)
        await produce(granted.connection("epd-connector"), topics.TELEMETRY_RAW, message, topic_prefix)
    assert await read_one(granted.connection("epd-ingest"), raw, group=group)  # commits its position
    exporter = granted.connection("epd-kafka-lag-exporter")

    assert group in await listed_groups(exporter)
    committed = {tp.partition: meta.offset for tp, meta in (await group_offsets(exporter, group)).items()}
    watermarks = await end_offsets(exporter, raw)
    assert sum(watermarks.values()) == 2 and committed, (watermarks, committed)
    assert all(0 <= offset <= watermarks[p] for p, offset in committed.items()), (committed, watermarks)
    # The broker lists it only the programme's groups: a registry's group is neither listed nor readable.
    name = f"registry-{unique[:8]}"
    made = epd("kafka", "grant-subscriber", name, "--json", env={**granted.env(), "EPD_TOPIC_PREFIX": topic_prefix})
    assert made.returncode == 0, made.stdout + made.stderr
    subscriber = granted.connection().as_user(name, json.loads(made.stdout)["password"])
    change = footprint_pb2.FootprintChanged(product_id="p1", product_sequence=1)
    await produce(granted.connection("epd-publisher"), topics.FOOTPRINT_CHANGES, change, topic_prefix)
    feed = topics.FOOTPRINT_CHANGES.topic(topic_prefix)
    assert await read_one(subscriber, feed, group=f"{name}-mirror")
    assert f"{name}-mirror" not in await listed_groups(exporter)
    with pytest.raises(GroupAuthorizationFailedError):
        await group_offsets(exporter, f"{name}-mirror")
    assert epd("kafka", "revoke", name, env=granted.env()).returncode == 0

    # Describing is all: no record of any topic, nothing produced, no member of a service's group.
    for topic in (raw, feed):
        with pytest.raises(REFUSED):
            await read_one(exporter, topic)
    with pytest.raises(REFUSED):
        await read_one(exporter, raw, group=group)
    with pytest.raises(WRITE_REFUSED):
        await produce(exporter, topics.TELEMETRY_RAW, topics.TELEMETRY_RAW.message_type(plant_id="x"), topic_prefix)
