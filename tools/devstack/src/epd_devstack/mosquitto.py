"""Mosquitto MQTT broker from Debian packages, on loopback, secured as a plant's broker should be:
TLS only (a server certificate of the local CA, `local_ca.py`), no anonymous clients, one user per
plant with a password (`password_file`, mosquitto_passwd's hash format) and an ACL that confines
each user to the topics of its plant YAML (`acl_file`, epd_connector.mqtt_access). There is no
plaintext listener: every client (connectors, simulators, tests) connects as a plant user over TLS.

Users default to the plants of services/connector/config; tests pass their own. Passwords are made
once per user and kept in `<base>/users/<user>.password` (0600). Starting again while the broker
runs rewrites the password and ACL files and reloads them (SIGHUP); a changed listener needs a
restart (`make stack-down`), which `start` says instead of serving the old configuration silently.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .kafka import REPO
from .local_ca import LocalCA
from .procs import StartupError, port_open, read_pid, spawn, stop_pid_file, wait_until

if TYPE_CHECKING:
    from epd_connector.mqtt_access import MqttUser

PLANT_CONFIGS = REPO / "services" / "connector" / "config"


def plant_users(paths: Sequence[pathlib.Path] | None = None) -> list[MqttUser]:
    """One readwrite user per plant YAML (the user name is the plant id)."""
    from epd_connector.config import load_plant_config
    from epd_connector.mqtt_access import plant_user

    return [plant_user(load_plant_config(p)) for p in (paths or sorted(PLANT_CONFIGS.glob("*.yaml")))]


class Mosquitto:
    def __init__(
        self, base: pathlib.Path, port: int = 18883, *, ca: LocalCA, users: Sequence[MqttUser] | None = None
    ) -> None:
        self.base, self.port, self.ca = base, port, ca
        self._users = list(users) if users is not None else None
        self.pid_file = base / "mosquitto.pid"
        self.log_file = base / "mosquitto.log"
        self.conf_file = base / "mosquitto.conf"

    @property
    def users(self) -> list[MqttUser]:
        if self._users is None:
            self._users = plant_users()
        return self._users

    def password(self, username: str) -> str:
        """The user's password (made on first use, kept in <base>/users/<user>.password, mode 0600)."""
        path = self.base / "users" / f"{username}.password"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def client_env(self, username: str) -> dict[str, str]:
        """The connector settings that reach this broker as `username`."""
        return {
            "EPD_CONNECTOR_MQTT_HOST": "127.0.0.1",
            "EPD_CONNECTOR_MQTT_PORT": str(self.port),
            "EPD_CONNECTOR_MQTT_USERNAME": username,
            "EPD_CONNECTOR_MQTT_PASSWORD": self.password(username),
            "EPD_CONNECTOR_MQTT_TLS": "true",
            "EPD_CONNECTOR_MQTT_CA_FILE": str(self.ca.cert_file),
        }

    def write_files(self) -> str:
        """CA, server certificate, password and ACL files; returns the configuration text."""
        from epd_connector.mqtt_access import acl_text, password_line

        self.base.mkdir(parents=True, exist_ok=True)
        server = self.ca.ensure().issue_server(self.base / "tls", "mosquitto", ["127.0.0.1", "localhost"])
        lines = [password_line(u.username, self.password(u.username)) for u in self.users]
        _write_private(self.base / "passwd", "\n".join(lines) + "\n")
        _write_private(self.base / "acl", acl_text(self.users))
        return (
            "per_listener_settings false\n"
            "allow_anonymous false\n"
            f"password_file {self.base / 'passwd'}\n"
            f"acl_file {self.base / 'acl'}\n"
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {self.ca.cert_file}\n"
            f"certfile {server.cert}\n"
            f"keyfile {server.key}\n"
            "tls_version tlsv1.2\n"
            "persistence false\n"
            "user root\n"
            "log_dest stdout\n"
            "max_queued_messages 100000\n"
        )

    def start(self, timeout: float = 20.0) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not pathlib.Path(binary).exists():
            raise StartupError("mosquitto missing: apt-get install mosquitto")
        conf = self.write_files()
        pid = read_pid(self.pid_file)
        if pid is not None:
            running = self.conf_file.read_text() if self.conf_file.exists() else ""
            if running != conf:
                raise StartupError(
                    f"mosquitto (pid {pid}) runs an older listener configuration: make stack-down, then stack-up"
                )
            os.kill(pid, signal.SIGHUP)  # rereads the password and ACL files
            return
        self.conf_file.write_text(conf)
        proc = spawn([binary, "-c", str(self.conf_file)], self.log_file, self.pid_file)
        wait_until(
            lambda: port_open("127.0.0.1", self.port),
            timeout=timeout,
            proc=proc,
            what="mosquitto",
            log_file=self.log_file,
        )

    def stop(self) -> None:
        stop_pid_file(self.pid_file)

    def describe(self) -> str:
        state = "up" if read_pid(self.pid_file) else "down"
        users = ", ".join(u.username for u in self.users)
        return f"mqtt mqtts://127.0.0.1:{self.port} ({state}; CA {self.ca.cert_file}; users {users})"


def _write_private(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
