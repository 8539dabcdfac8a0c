"""Process helpers: start detached, wait for ports, stop by pid file."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import time

from .errors import DevstackError


class StartupError(DevstackError):
    """A component did not become ready; the message carries the tail of its log."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A loopback port free right now (for processes started next, in tests and the demo)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); check its state.
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        return stat.split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(pid_file: pathlib.Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def log_tail(path: pathlib.Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def spawn(
    cmd: list[str],
    log_file: pathlib.Path,
    pid_file: pathlib.Path,
    env: dict | None = None,
    cwd: pathlib.Path | None = None,
) -> subprocess.Popen:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
    pid_file.write_text(str(proc.pid))
    return proc


def wait_until(
    ready, *, timeout: float, proc: subprocess.Popen | None, what: str, log_file: pathlib.Path, interval: float = 0.25
) -> None:
    """Poll `ready()` until true; fail fast with the log if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StartupError(f"{what} exited with {proc.returncode} during start-up:\n{log_tail(log_file)}")
        if ready():
            return
        time.sleep(interval)
    raise StartupError(f"{what} not ready after {timeout:.0f}s:\n{log_tail(log_file)}")


def stop_pid_file(pid_file: pathlib.Path, timeout: float = 30.0, sig: int = signal.SIGTERM) -> bool:
    """SIGTERM the process group, wait, then SIGKILL. Returns True when something was stopped."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pid_file.unlink(missing_ok=True)
    return True
