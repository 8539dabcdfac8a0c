"""Calls of the footprint admin API (the plant registry's one writer) from the connector's commands.

The operator's credentials come from the environment: EPD_FOOTPRINT_ADMIN_URL and
EPD_FOOTPRINT_ADMIN_TOKEN. A refusal (4xx) prints the API's `{code, message}` and exits 1; an
unreachable API, or one that does not answer JSON, exits 2.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import typer

from epd_connector.registration import DEFAULT_ADMIN_URL


class AdminApi:
    def __init__(self) -> None:
        token = os.environ.get("EPD_FOOTPRINT_ADMIN_TOKEN", "")
        if not token:
            typer.echo("EPD_FOOTPRINT_ADMIN_TOKEN is not set", err=True)
            raise typer.Exit(2)
        self.url = os.environ.get("EPD_FOOTPRINT_ADMIN_URL", DEFAULT_ADMIN_URL)
        self._client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def __enter__(self) -> AdminApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """(status, JSON answer); exits 2 when the API cannot be reached or does not answer JSON."""
        try:
            resp = self._client.request(method, path, json=body)
            return resp.status_code, resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            typer.echo(f"admin API at {self.url} unreachable or not answering JSON: {exc}", err=True)
            raise typer.Exit(2) from None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON answer of a successful call; a refusal is printed and exits 1."""
        status, answer = self.send(method, path, body)
        if status >= 400:
            refused(status, answer)
        return answer


def refused(status: int, answer: Any) -> None:
    code = answer.get("code", "") if isinstance(answer, dict) else ""
    message = answer.get("message", "") if isinstance(answer, dict) else str(answer)[:500]
    typer.echo(f"refused ({status} {code}): {message}", err=True)
    raise typer.Exit(1)
