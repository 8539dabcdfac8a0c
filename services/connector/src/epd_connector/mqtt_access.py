"""Who may publish and subscribe where on a plant's MQTT broker (pure: text in, text out).

One Mosquitto user per plant, confined by the ACL to the exact topics its plant YAML binds (the
topics the connector subscribes to and the plant's systems publish on); with `acl_file` set,
Mosquitto denies every topic an ACL does not grant. The password file holds PBKDF2-SHA512 hashes in
the `$7$` format that `mosquitto_passwd` writes (Mosquitto 2.x: `user:$7$<iterations>$<salt>$<hash>`,
base64, 12-byte salt, 64-byte hash); hashing here keeps the files reproducible where the binary is
missing (a compose init job, a CI runner). Operators of a production broker may use `mosquitto_passwd`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
from collections.abc import Iterable
from typing import Literal

from epd_connector.config import PlantConfig
from epd_connector.errors import ConnectorError

Access = Literal["read", "write", "readwrite"]
# Mosquitto splits password lines at ':' and ACL lines at whitespace: neither may appear in a name.
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TOPIC_BAD = re.compile(r"[\s\x00-\x1f\x7f+#]")
#: PBKDF2 rounds; mosquitto_passwd's default is 101, the broker takes the count stored in each line.
ITERATIONS = 20_000


class MqttAccessError(ConnectorError):
    """A user or topic that cannot be written into Mosquitto's password or ACL file."""


@dataclasses.dataclass(frozen=True)
class MqttUser:
    username: str
    topics: tuple[str, ...]
    access: Access = "readwrite"

    def __post_init__(self) -> None:
        if not _USERNAME.match(self.username):
            raise MqttAccessError(f"MQTT username {self.username[:64]!r}: letters, digits, '.', '_', '-' only")
        for topic in self.topics:
            if not topic or len(topic) > 256 or _TOPIC_BAD.search(topic) or topic.startswith("$"):
                raise MqttAccessError(f"topic {topic[:64]!r} of {self.username}: no wildcards, spaces or '$'")


def plant_user(plant: PlantConfig, access: Access = "readwrite", username: str | None = None) -> MqttUser:
    """The plant's user (its plant id by default), granted exactly the topics its meters bind."""
    topics = sorted({m.sources.mqtt.topic for m in plant.meters if m.sources.mqtt})
    return MqttUser(username or plant.plant_id, tuple(topics), access)


def acl_text(users: Iterable[MqttUser]) -> str:
    """Mosquitto `acl_file` content: each user gets its own topics, nothing else."""
    lines = ["# Generated from the plant YAML files (epd_connector.mqtt_access); every other topic is denied."]
    seen: set[str] = set()
    for user in users:
        if user.username in seen:
            raise MqttAccessError(f"MQTT user {user.username} is listed twice")
        seen.add(user.username)
        lines += ["", f"user {user.username}"]
        lines += [f"topic {user.access} {topic}" for topic in user.topics]
    return "\n".join(lines) + "\n"


def password_line(username: str, password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """One line of a Mosquitto password file (the hash mosquitto_passwd would write)."""
    if not _USERNAME.match(username):
        raise MqttAccessError(f"MQTT username {username[:64]!r}: letters, digits, '.', '_', '-' only")
    if not password or "\n" in password:
        raise MqttAccessError("an MQTT password must be one non-empty line")
    salt = os.urandom(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"{username}:$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
