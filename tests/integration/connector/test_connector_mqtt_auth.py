"""MQTT inputs through a real Mosquitto secured as the local stack's (TLS, one password user per plant,
the topic ACL): a plant publishing as itself over TLS reaches its connector; no credentials, a wrong
password, plaintext or an untrusted certificate are refused at connect; another plant's topic is never
delivered; a connector the broker refuses counts it in epd_connector_input_refused_total."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import aiomqtt
import pytest
from inputs_support import client_tls, secured_broker
from prometheus_client import REGISTRY
from telemetry_support import create_topics, plant_yaml, read_topic, running_connector

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_connector.config import PlantConfig, load_plant_config
from epd_connector.mqtt_access import plant_user
from epd_connector.signing import generate_private_key, private_key_to_pem
from epd_devstack.local_ca import LocalCA


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def until(check: Callable[[], bool], what: str, within: float = 60.0) -> None:
    """Poll a condition (metrics: nothing to await) with a generous deadline."""
    try:
        async with asyncio.timeout(within):
            while not check():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"no {what} within {within}s") from None


def topic(plant: PlantConfig, meter: str = "electricity") -> str:
    return next(m.sources.mqtt.topic for m in plant.meters if m.meter_id.endswith(meter) and m.sources.mqtt)


def values(signed: list[telemetry_pb2.SignedTelemetryBatch]) -> list[str]:
    """The reading values of the signed batches the connector produced."""
    return [r.value for s in signed for r in telemetry_pb2.TelemetryBatch.FromString(s.batch).readings]


def payload(value: str) -> bytes:
    return json.dumps({"value": value, "ts": datetime.now(UTC).isoformat()}).encode()


@pytest.fixture
def plants(tmp_path, unique) -> tuple[PlantConfig, PlantConfig]:
    return (
        load_plant_config(plant_yaml(tmp_path, f"ma{unique[:6]}", unique)),
        load_plant_config(plant_yaml(tmp_path, f"mb{unique[:6]}", unique)),
    )


@pytest.fixture
def broker(tmp_path, plants):
    with secured_broker(tmp_path, [plant_user(p) for p in plants]) as b:
        yield b


def client(broker, username: str | None, password: str | None, **kw) -> aiomqtt.Client:
    kw.setdefault("tls_context", client_tls(broker.ca.cert_file))
    kw.setdefault("timeout", 30)
    return aiomqtt.Client("127.0.0.1", broker.port, username=username, password=password, **kw)


@pytest.fixture
async def connector(tmp_path, plants, broker, kafka, topic_prefix):
    """Plant A's connector, subscribed through the broker as plant A's user."""
    await create_topics(kafka, topic_prefix)
    key = tmp_path / "k.pem"
    key.write_bytes(private_key_to_pem(generate_private_key()))
    env = broker.client_env(plants[0].plant_id)
    async with running_connector(
        **kafka.settings_fields(),
        topic_prefix=topic_prefix,
        plant_config=tmp_path / f"{plants[0].plant_id}.yaml",
        key_file=key,
        sources="mqtt",
        mqtt_port=broker.port,
        mqtt_username=env["EPD_CONNECTOR_MQTT_USERNAME"],
        mqtt_password=env["EPD_CONNECTOR_MQTT_PASSWORD"],
        mqtt_ca_file=broker.ca.cert_file,
    ) as rt:
        await until(lambda: sample("epd_connector_source_connected", source="mqtt") == 1, "mqtt subscription")
        yield rt


async def test_a_plant_as_itself_is_delivered_and_another_plants_topic_is_not(
    connector, broker, plants, kafka, topic_prefix, unique
):
    a, b = plants
    # Plant B's user, valid and over TLS, publishes on plant A's topic: the ACL drops it at the broker.
    async with client(broker, b.plant_id, broker.password(b.plant_id)) as intruder:
        await intruder.publish(topic(a), payload("666"), qos=1)  # returns once the broker has taken it
    async with client(broker, a.plant_id, broker.password(a.plant_id)) as own:
        await own.publish(topic(a), payload("1.5"), qos=1)
    batches = await read_topic(
        kafka, topics.TELEMETRY_RAW, topic_prefix, f"raw-{unique}", lambda bs: "1.5" in values(bs)
    )
    # One broker, one subscriber, in order: had B's message been delivered, it would have come first.
    assert values(batches) == ["1.5"], values(batches)


async def test_another_plants_user_cannot_read_plant_topics(broker, plants):
    a, b = plants
    async with client(broker, b.plant_id, broker.password(b.plant_id)) as spy:
        await spy.subscribe(topic(a), qos=1)
        await spy.subscribe(topic(b), qos=1)
        async with client(broker, a.plant_id, broker.password(a.plant_id)) as own:
            await own.publish(topic(a), payload("1"), qos=1)
        async with client(broker, b.plant_id, broker.password(b.plant_id)) as b_own:
            await b_own.publish(topic(b), payload("2"), qos=1)  # the marker: B may read its own topic
        async with asyncio.timeout(60):
            first = await anext(aiter(spy.messages))
    assert str(first.topic) == topic(b), "plant B's user read plant A's topic"


@pytest.mark.parametrize(
    ("username", "password"),
    [(None, None), ("plant-a", "wrong password"), ("plant-a", None), ("nobody", "x")],
    ids=["anonymous", "wrong-password", "no-password", "unknown-user"],
)
async def test_connects_without_the_plants_credentials_are_refused(broker, plants, username, password):
    name = plants[0].plant_id if username == "plant-a" else username
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with client(broker, name, password):
            pass
    assert refused.value.rc in (4, 5, 134, 135), refused.value  # bad credentials / not authorised


async def test_plaintext_and_untrusted_certificates_are_refused(broker, plants, tmp_path):
    a = plants[0].plant_id
    # MQTT in clear text to the TLS listener: the broker never answers with a CONNACK, so the client gives
    # up after its timeout (short here: any answer but a CONNACK, or none, is the refusal)
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, a, broker.password(a), tls_context=None, timeout=5):
            pass
    other_ca = LocalCA(tmp_path / "other-ca").ensure()
    with pytest.raises(aiomqtt.MqttError):  # the client does not trust the broker's certificate
        async with client(broker, a, broker.password(a), tls_context=client_tls(other_ca.cert_file)):
            pass
    with socket.create_connection(("127.0.0.1", broker.port), timeout=30) as raw:  # garbage, no handshake
        raw.sendall(b"\x10garbage" * 100)
        with contextlib.suppress(OSError):
            raw.recv(4096)  # an alert or the close
    # the broker keeps serving the plant
    async with client(broker, a, broker.password(a)):
        pass


@pytest.mark.parametrize(("case", "reason"), [("password", "not_authorized"), ("ca", "tls_failed")])
async def test_a_refused_connector_counts_the_refusal(case, reason, tmp_path, plants, broker, kafka, topic_prefix):
    key = tmp_path / "k.pem"
    key.write_bytes(private_key_to_pem(generate_private_key()))
    a = plants[0].plant_id
    other_ca = LocalCA(tmp_path / "other-ca").ensure()
    before = sample("epd_connector_input_refused_total", source="mqtt", reason=reason)
    async with running_connector(
        **kafka.settings_fields(),
        topic_prefix=topic_prefix,
        plant_config=tmp_path / f"{a}.yaml",
        key_file=key,
        sources="mqtt",
        mqtt_port=broker.port,
        mqtt_username=a,
        mqtt_password="wrong" if case == "password" else broker.password(a),
        mqtt_ca_file=broker.ca.cert_file if case == "password" else other_ca.cert_file,
    ):
        await until(
            lambda: sample("epd_connector_input_refused_total", source="mqtt", reason=reason) > before,
            f"refusal counted as {reason}",
        )
        assert sample("epd_connector_source_connected", source="mqtt") == 0
