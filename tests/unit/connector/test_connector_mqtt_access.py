"""The broker's password and ACL files (epd_connector.mqtt_access): mosquitto_passwd's hash format,
each plant user confined to the exact topics its YAML binds, names Mosquitto would misread refused."""

from __future__ import annotations

import base64

import pytest

from epd_connector.config import load_plant_config
from epd_connector.mqtt_access import MqttAccessError, MqttUser, acl_text, password_line, plant_user
from tests.conftest import REPO

# Written by Mosquitto 2.0.11's own tool: `mosquitto_passwd -b FILE alice s3cret`.
MOSQUITTO_PASSWD_LINE = (
    "alice:$7$101$1s/xL1mhLTa0gC6h$"
    "0+/niq36z4GG4/UeddYfRgRpZNQhw3CVY53cM86ISOdQ+6igBFXVQ4AC7Wat2nezrFfO0Q8vKPhbLpq70pxtJQ=="
)


def test_the_hash_is_the_one_mosquitto_passwd_writes():
    salt = base64.b64decode(MOSQUITTO_PASSWD_LINE.split("$")[3])
    assert password_line("alice", "s3cret", salt=salt, iterations=101) == MOSQUITTO_PASSWD_LINE


def test_each_line_gets_its_own_salt():
    a, b = password_line("alice", "pw"), password_line("alice", "pw")
    assert a != b and a.startswith("alice:$7$20000$")


def test_a_plant_user_is_granted_exactly_its_yaml_topics():
    plant = load_plant_config(REPO / "services/connector/config/baotou-smelter.yaml")
    user = plant_user(plant)
    bound = {m.sources.mqtt.topic for m in plant.meters if m.sources.mqtt}
    assert user.username == "baotou-smelter" and set(user.topics) == bound and len(user.topics) == len(bound)
    text = acl_text([user, plant_user(load_plant_config(REPO / "services/connector/config/baotou-mine.yaml"))])
    blocks = text.split("\n\nuser ")[1:]
    assert [b.splitlines()[0] for b in blocks] == ["baotou-smelter", "baotou-mine"]
    smelter = blocks[0].splitlines()[1:]
    assert smelter == [f"topic readwrite {t}" for t in sorted(bound)]
    assert "#" not in text.split("\n", 1)[1] and "+" not in text and "pattern" not in text


def test_access_modes_are_written_as_given():
    text = acl_text([MqttUser("reader", ("a/b",), "read"), MqttUser("writer", ("a/b",), "write")])
    assert "user reader\ntopic read a/b" in text and "user writer\ntopic write a/b" in text


@pytest.mark.parametrize(
    ("username", "topics"),
    [
        ("has space", ("a",)),
        ("colon:user", ("a",)),
        ("", ("a",)),
        ("-dash", ("a",)),
        ("u", ("a b",)),
        ("u", ("a/#",)),
        ("u", ("a/+/b",)),
        ("u", ("$SYS/broker",)),
        ("u", ("a\nuser admin",)),
        ("u", ("",)),
        ("u", ("x" * 257,)),
    ],
)
def test_names_mosquitto_would_misread_are_refused(username, topics):
    with pytest.raises(MqttAccessError):
        MqttUser(username, topics)


def test_a_user_listed_twice_or_a_bad_password_is_refused():
    with pytest.raises(MqttAccessError, match="twice"):
        acl_text([MqttUser("u", ("a",)), MqttUser("u", ("b",))])
    for bad in ("", "two\nlines"):
        with pytest.raises(MqttAccessError):
            password_line("u", bad)
    with pytest.raises(MqttAccessError):
        password_line("u:x", "pw")
