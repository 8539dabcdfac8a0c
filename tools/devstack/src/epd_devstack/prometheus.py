"""Prometheus (and promtool) from Debian packages, scraping the local services.

The scrape and rule files live in deploy/prometheus/; this only starts the server with a local
data folder on a loopback port.
"""

from __future__ import annotations

import pathlib
import shutil
import urllib.request

from .kafka import REPO
from .procs import StartupError, port_open, read_pid, spawn, stop_pid_file, wait_until

CONFIG = REPO / "deploy" / "prometheus" / "prometheus.local.yml"


class Prometheus:
    def __init__(self, base: pathlib.Path, port: int = 19090, config: pathlib.Path = CONFIG) -> None:
        self.base, self.port, self.config = base, port, config
        self.pid_file = base / "prometheus.pid"
        self.log_file = base / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise StartupError("prometheus missing: apt-get install prometheus")
        if not self.config.exists():
            raise StartupError(f"no Prometheus configuration at {self.config}")
        self.base.mkdir(parents=True, exist_ok=True)
        if read_pid(self.pid_file) is not None:
            return
        proc = spawn(
            [
                binary,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.base / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=2d",
                "--web.enable-lifecycle",
            ],
            self.log_file,
            self.pid_file,
        )
        # The port opens before the TSDB is loaded; until then queries answer 503: wait for /-/ready.
        wait_until(
            lambda: port_open("127.0.0.1", self.port) and self._ready(),
            timeout=timeout,
            proc=proc,
            what="prometheus",
            log_file=self.log_file,
        )

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:  # URLError and HTTPError (503 while starting) are OSErrors
            return False

    def stop(self) -> None:
        stop_pid_file(self.pid_file)

    def describe(self) -> str:
        state = "up" if read_pid(self.pid_file) else "down"
        return f"prometheus {self.url} ({state})"
