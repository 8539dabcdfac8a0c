"""Authenticated plant inputs for connector tests: a push credential file with one token, and a private
Mosquitto configured as the local stack's (TLS from a CA of its own, one password user per plant, the
topic ACL) on a free port, in the test's tmp dir, stopped after the test."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Sequence
from pathlib import Path

from epd_connector.mqtt_access import MqttUser
from epd_connector.push_credentials import editing, new_credential
from epd_devstack.local_ca import LocalCA
from epd_devstack.mosquitto import Mosquitto
from epd_devstack.procs import free_port


def push_credential(tmp: Path, plant_id: str, name: str = "scada-1", meters: Sequence[str] = ()) -> tuple[Path, str]:
    """(credential file, token) with one credential for `plant_id`, as `epd connector push-credential add` writes."""
    path = tmp / "push-credentials.json"
    token, cred = new_credential(plant_id, name, meters)
    with editing(path) as creds:
        creds.append(cred)
    return path, token


@contextlib.contextmanager
def secured_broker(tmp: Path, users: Sequence[MqttUser]) -> Iterator[Mosquitto]:
    """A Mosquitto of its own: TLS only, no anonymous clients, `users` with their ACL."""
    broker = Mosquitto(tmp / "mqtt", port=free_port(), ca=LocalCA(tmp / "ca"), users=users)
    broker.start(timeout=60)
    try:
        yield broker
    finally:
        broker.stop()


def client_tls(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))
