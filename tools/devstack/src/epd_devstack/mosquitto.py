"""Mosquitto MQTT broker from Debian packages, on loopback, anonymous (local stack only)."""

from __future__ import annotations

import pathlib
import shutil

from .procs import StartupError, port_open, read_pid, spawn, stop_pid_file, wait_until


class Mosquitto:
    def __init__(self, base: pathlib.Path, port: int = 11883) -> None:
        self.base, self.port = base, port
        self.pid_file = base / "mosquitto.pid"
        self.log_file = base / "mosquitto.log"

    def start(self, timeout: float = 20.0) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not pathlib.Path(binary).exists():
            raise StartupError("mosquitto missing: apt-get install mosquitto")
        self.base.mkdir(parents=True, exist_ok=True)
        if read_pid(self.pid_file) is not None:
            return
        conf = self.base / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n"
            "log_dest stdout\nmax_queued_messages 100000\n"
        )
        proc = spawn([binary, "-c", str(conf)], self.log_file, self.pid_file)
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
        return f"mqtt mqtt://127.0.0.1:{self.port} ({state})"
