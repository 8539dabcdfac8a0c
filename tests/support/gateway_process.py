"""The real gateway as a process (`python -m epd_gateway`, TLS on a free port) for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY_SECRET = "integration-test-key-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gateway:
    url: str
    cert: Path
    dsn: str
    port: int
    clients: dict[str, tuple[str, str]]  # name -> (client_id, secret)
    env: dict[str, str]

    def client(self, **kw) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, verify=ssl.create_default_context(cafile=str(self.cert)), timeout=30, **kw
        )

    async def token(self, name: str, scope: str | None = None) -> str:
        cid, secret = self.clients[name]
        async with self.client() as http:
            data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
            r = await http.post("/auth/token", data=data, auth=(cid, secret))
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


def start(dsn: str, tmp: Path, **extra: str) -> tuple[subprocess.Popen, dict[str, str], int]:
    port = free_port()
    env = dict(
        os.environ,
        EPD_PG_DSN=dsn,
        EPD_GATEWAY_HTTPS_PORT=str(port),
        EPD_RECORDS_KEY_SECRET=KEY_SECRET,
        EPD_GATEWAY_TLS_DIR=str(tmp / "tls"),
        EPD_GATEWAY_PUBLIC_URL=f"https://127.0.0.1:{port}",
        EPD_GATEWAY_KEY_REFRESH_SECONDS="0",
        EPD_GATEWAY_REQUEST_POLL_SECONDS="0.2",
        EPD_GATEWAY_TOKEN_RATE_PER_SECOND="50",
        EPD_GATEWAY_TOKEN_RATE_BURST="50",
        EPD_LOG_JSON="false",
        EPD_GATEWAY_RATE_PER_SECOND="1000",
        EPD_GATEWAY_RATE_BURST="1000",
    )
    env.update(extra)
    with open(tmp / f"gateway-{port}.log", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([sys.executable, "-m", "epd_gateway"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {(tmp / f'gateway-{port}.log').read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, env, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway did not start in 30 s")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
