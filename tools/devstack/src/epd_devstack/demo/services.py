"""Start and stop the platform's services as processes, each with its own log and pid file."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys
import time

from ..kafka import REPO
from ..procs import StartupError, log_tail, port_open, spawn, stop_pid_file, wait_until

ENV_EXAMPLE = REPO / ".env.example"


def env_defaults() -> dict[str, str]:
    """The local defaults of .env.example (the one list of every setting)."""
    out: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            out[name] = value
    return out


@dataclasses.dataclass
class ServiceSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    # A loopback port that answers once the service is up (its metrics or HTTP port); None: no wait.
    ready_port: int | None = None


class ServiceGroup:
    """The running processes of one demo run; `stop()` ends all of them (SIGTERM, then SIGKILL)."""

    def __init__(self, run_dir: pathlib.Path) -> None:
        self.run_dir = run_dir
        self.logs = run_dir / "logs"
        self.pids = run_dir / "pids"
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, spec: ServiceSpec, timeout: float = 60.0) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
        log_file = self.logs / f"{spec.name}.log"
        proc = spawn(spec.argv, log_file, self.pids / f"{spec.name}.pid", env=env, cwd=REPO)
        self.procs[spec.name] = proc
        if spec.ready_port is not None:
            wait_until(
                lambda: port_open("127.0.0.1", spec.ready_port),
                timeout=timeout,
                proc=proc,
                what=spec.name,
                log_file=log_file,
            )
        return proc

    def check_alive(self) -> list[str]:
        """Names of services that exited; their logs say why."""
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def log_tail(self, name: str, lines: int = 40) -> str:
        return log_tail(self.logs / f"{name}.log", lines)

    def stop(self, names: list[str] | None = None) -> None:
        for name in reversed(names or list(self.procs)):
            stop_pid_file(self.pids / f"{name}.pid", timeout=20)
            self.procs.pop(name, None)

    def stop_all_from_pid_files(self) -> None:
        """`make stop` from another shell: whatever pid files a previous run left."""
        if self.pids.is_dir():
            for pid_file in sorted(self.pids.glob("*.pid")):
                stop_pid_file(pid_file, timeout=20)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def epd(*args: str) -> list[str]:
    return [sys.executable, "-m", "epd_cli.main", *args]


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120.0) -> str:
    """Run an operator command to completion; raise with its output when it fails."""
    res = subprocess.run(args, env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise StartupError(f"{' '.join(args[2:])} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s")
