"""Kafka plumbing with safe defaults (DESIGN.md section 6).

Producers are idempotent with acks=all and pipeline their sends: `send` returns the delivery future
and callers await a batch of them together. Consumers never auto-commit: the caller commits after
its effect is durable (`commit_processed`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from google.protobuf.message import Message

from .errors import CommonError
from .topics import ALL_TOPICS, Replication, TopicSpec

PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "max_batch_size": 256 * 1024,
    "compression_type": None,
    "request_timeout_ms": 30000,
    # The idempotent producer retries internally until delivery.timeout; keep sends in flight bounded.
    "max_request_size": 4 * 1024 * 1024,
}

CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "isolation_level": "read_committed",
    "max_poll_records": 500,
    # aiokafka asks a broker for one partition's next records only after the previous ones are
    # consumed, and meanwhile long-polls that broker for the assignment's idle partitions; the
    # busy partition then waits for that poll to return. With the default 500 ms, any consumer
    # slower than ~0.1 s per fetched chunk drained a backlog at a fraction of its speed (bench:
    # 9k vs 26k readings/s). 100 ms bounds the stall; an idle consumer polls ten times a second.
    "fetch_max_wait_ms": 100,
    "session_timeout_ms": 10000,
    "heartbeat_interval_ms": 1000,
}


SecurityProtocol = Literal["SASL_SSL", "PLAINTEXT"]


@dataclasses.dataclass(frozen=True)
class KafkaConnection:
    """Where the cluster is and who this client is: SASL_SSL with SCRAM-SHA-512 over TLS verified
    against `ca_file` (None: the system trust store). PLAINTEXT exists for a broker of a test that
    checks refusals and is refused by settings outside EPD_ENVIRONMENT=local."""

    bootstrap: str
    security_protocol: SecurityProtocol = "SASL_SSL"
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.security_protocol == "SASL_SSL" and not (self.username and self.password):
            raise KafkaNotConfigured(
                "Kafka needs a principal: set EPD_KAFKA_USERNAME and EPD_KAFKA_PASSWORD (SASL_SSL, SCRAM-SHA-512)"
            )

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """The aiokafka arguments of a producer, consumer or admin client."""
        if self.security_protocol == "PLAINTEXT":
            return {"bootstrap_servers": self.bootstrap}
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
            "ssl_context": self.ssl_context(),
        }

    def as_user(self, username: str, password: str) -> KafkaConnection:
        return dataclasses.replace(self, username=username, password=password)

    def settings_fields(self) -> dict[str, str]:
        """The ServiceSettings fields that give this connection (a service built in-process, e.g. in tests)."""
        return {
            "kafka_bootstrap": self.bootstrap,
            "kafka_security_protocol": self.security_protocol,
            "kafka_username": self.username,
            "kafka_password": self.password,
            "kafka_ca_file": self.ca_file or "",
        }

    def env(self) -> dict[str, str]:
        """The environment that gives a service process this connection (EPD_ + the field name)."""
        return {f"EPD_{name.upper()}": value for name, value in self.settings_fields().items()}


def make_producer(connection: KafkaConnection, **overrides: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**connection.client_kwargs(), **{**PRODUCER_DEFAULTS, **overrides})


def make_consumer(
    connection: KafkaConnection, group_id: str | None, *topics: str, **overrides: Any
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics, **connection.client_kwargs(), group_id=group_id, **{**CONSUMER_DEFAULTS, **overrides}
    )


def make_admin(connection: KafkaConnection, **overrides: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**{**connection.client_kwargs(), **overrides})


class TopicProducer:
    """Typed, pipelined sends through the topic registry."""

    def __init__(self, producer: AIOKafkaProducer, enqueue_timeout_s: float = 120.0) -> None:
        self._producer = producer
        self._enqueue_timeout_s = enqueue_timeout_s

    @property
    def raw(self) -> AIOKafkaProducer:
        return self._producer

    async def send(
        self,
        spec: TopicSpec,
        key: str,
        message: Message,
        headers: Sequence[tuple[str, bytes]] | None = None,
        topic: str | None = None,
    ) -> asyncio.Future:
        """Queue one record; returns the future of its broker acknowledgement (await it, or use send_all).

        aiokafka raises from `send` itself (before queueing) when it has no leader for the partition,
        e.g. while a broker restarts. Nothing was queued then, so retrying keeps per-key order; the
        retry is bounded by `enqueue_timeout_s`, after which the error reaches the caller.
        """
        value, key_bytes = spec.encode(message), key.encode()
        deadline = asyncio.get_running_loop().time() + self._enqueue_timeout_s
        delay = 0.1
        while True:
            try:
                return await self._producer.send(
                    topic or spec.name, value=value, key=key_bytes, headers=list(headers) if headers else None
                )
            except KafkaError as exc:
                if not exc.retriable or asyncio.get_running_loop().time() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def send_all(self, spec: TopicSpec, records: Iterable[tuple[str, Message]], topic: str | None = None) -> list:
        """Pipeline a batch of sends and wait for every acknowledgement (raises on the first failure)."""
        futures = [await self.send(spec, key, msg, topic=topic) for key, msg in records]
        return list(await asyncio.gather(*futures))


async def commit_processed(consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list]) -> None:
    """Commit the offsets after the last record of each partition in a processed batch."""
    offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
    if offsets:
        await consumer.commit(offsets)


async def ensure_topics(
    connection: KafkaConnection,
    specs: Iterable[TopicSpec] = ALL_TOPICS,
    *,
    replication: Replication,
    prefix: str = "",
) -> None:
    """Create the registry's topics if missing (idempotent), each with `replication` (its factor and
    min.insync.replicas): a service passes `settings.topic_replication`. `prefix` isolates test runs.
    A topic that exists is left as it is."""
    admin = make_admin(connection)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                prefix + s.name,
                s.partitions,
                replication.factor,
                topic_configs={**s.topic_config(), **replication.topic_config()},
            )
            for s in specs
            if prefix + s.name not in existing
        ]
        if new:
            # The broker answers per topic and aiokafka raises for none of them: a replication factor
            # the cluster cannot hold would otherwise pass unnoticed (and the topic be auto-created later
            # with the broker's defaults).
            response = await admin.create_topics(new)
            failed = [
                f"{t['topic']}: {t.get('error_message') or for_code(t['error_code']).__name__}"
                for t in response.to_object()["topic_errors"]
                if t["error_code"] not in (0, TopicAlreadyExistsError.errno)
            ]
            if any(t["error_code"] in _NOT_AUTHORISED for t in response.to_object()["topic_errors"]):
                raise TopicsNotCreated(
                    f"Kafka refused to create {'; '.join(failed)}: this principal may not create them; create the"
                    " topics and grants with `epd kafka grant-services` as the programme's Kafka admin"
                )
            if failed:
                raise TopicsNotCreated(
                    f"Kafka refused to create {'; '.join(failed)} (replication factor {replication.factor},"
                    f" min.insync.replicas {replication.min_insync}: see EPD_ENVIRONMENT, EPD_KAFKA_REPLICATION_FACTOR)"
                )
    finally:
        await admin.close()


_NOT_AUTHORISED = (29, 31)  # TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED


class KafkaNotConfigured(CommonError):
    """SASL_SSL without a principal."""


class TopicsNotCreated(CommonError):
    """The broker refused to create a topic (e.g. more replicas than brokers)."""
