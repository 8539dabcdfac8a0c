"""`epd footprint ...` operator commands: thin HTTP calls to the admin API (EPD_FOOTPRINT_ADMIN_URL,
EPD_FOOTPRINT_ADMIN_TOKEN). JSON files or inline options in, the API's JSON out; a 4xx prints its
`{code, message}` and exits 1. The token is the user's API key (`epd admin users add`) or the bootstrap
operator token; an https URL is checked against EPD_FOOTPRINT_ADMIN_CA_FILE when set (a private CA)."""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path
from typing import Any

import httpx
import typer
import yaml


def _client() -> httpx.Client:
    url = os.environ.get("EPD_FOOTPRINT_ADMIN_URL", "http://127.0.0.1:8083")
    token = os.environ.get("EPD_FOOTPRINT_ADMIN_TOKEN", "")
    if not token:
        typer.echo("EPD_FOOTPRINT_ADMIN_TOKEN is not set", err=True)
        raise typer.Exit(2)
    ca = os.environ.get("EPD_FOOTPRINT_ADMIN_CA_FILE", "")
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30, verify=ssl_context(ca) if ca else True
    )


def ssl_context(ca_file: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        typer.echo(f"EPD_FOOTPRINT_ADMIN_CA_FILE: {exc}", err=True)
        raise typer.Exit(2) from None


def call(method: str, path: str, body: Any = None, params: dict | None = None) -> None:
    try:
        with _client() as client:
            resp = client.request(method, path, json=body, params=params)
    except httpx.HTTPError as exc:
        typer.echo(f"admin API unreachable: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(resp.json(), indent=2))
    if resp.status_code >= 400:
        raise typer.Exit(1)


def read_doc(path: Path) -> Any:
    """A JSON or YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        return json.loads(json.dumps(doc, default=str))  # YAML dates as ISO text
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        typer.echo(f"cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    @app.command("register")
    def register_command(
        kind: str = typer.Argument(..., help="organisation|plant|process|meter|product|product-system|policy"),
        file: Path = typer.Argument(..., help="JSON/YAML body (see README)"),
    ) -> None:
        """Register a registry entry or a product system from a file."""
        paths = {
            "organisation": "/organisations",
            "plant": "/plants",
            "process": "/processes",
            "meter": "/meters",
            "product": "/products",
            "product-system": "/product-systems",
        }
        if kind == "policy":
            call("PUT", "/policies", read_doc(file))
            return
        if kind not in paths:
            typer.echo(f"unknown kind {kind!r}; one of {', '.join([*paths, 'policy'])}", err=True)
            raise typer.Exit(2)
        call("POST", paths[kind], read_doc(file))

    @app.command("import-epd")
    def import_epd(file: Path) -> None:
        """Import an existing EPD: series + published version 1 (+ outbox row)."""
        call("POST", "/epds/import", read_doc(file))

    @app.command("drift-events")
    def drift_events(product: str = typer.Option(None, "--product"), limit: int = typer.Option(100)) -> None:
        """List drift events (origin and cascade) with reason, evidence, direction and percent."""
        call("GET", "/drift-events", params={k: v for k, v in {"product_id": product, "limit": limit}.items() if v})

    @app.command("approve")
    def approve(
        pf_id: str,
        verifier: str = typer.Option(None, "--verifier", help="Deprecated, ignored: the API key's user is recorded"),
    ) -> None:
        """Verifier approval (a verifier's API key): provisional -> verified -> published; the preceding one is
        deprecated. The version records the authenticated verifier."""
        if verifier:
            typer.echo("--verifier is ignored: the approval records the user of the API key", err=True)
        call("POST", f"/versions/{pf_id}/approve", {})

    @app.command("reject")
    def reject(pf_id: str, reason: str = typer.Option(..., "--reason")) -> None:
        """Verifier rejection of a provisional version; the reason is stored (shown by `show`)."""
        call("POST", f"/versions/{pf_id}/reject", {"reason": reason})

    @app.command("withdraw")
    def withdraw(pf_id: str, reason: str = typer.Option(..., "--reason")) -> None:
        """Verifier withdrawal; the reason is stored (shown by `show`)."""
        call("POST", f"/versions/{pf_id}/withdraw", {"reason": reason})

    @app.command("expire")
    def expire() -> None:
        """Move versions past their validity to expired."""
        call("POST", "/versions/expire")

    @app.command("show")
    def show(pf_id: str) -> None:
        """A version: status, figures, verifier, who decided (decided_by, decided_by_name) and why."""
        call("GET", f"/versions/{pf_id}")

    pcr_app = typer.Typer(help="Product category rules (PCR): add, version, list.", no_args_is_help=True)
    app.add_typer(pcr_app, name="pcr")

    @pcr_app.command("add")
    def pcr_add(file: Path = typer.Argument(..., help="PCR document with pcr_id and its first version")) -> None:
        """Register a new PCR with its first version (POST /pcrs)."""
        call("POST", "/pcrs", read_doc(file))

    @pcr_app.command("version")
    def pcr_version(pcr_id: str, file: Path = typer.Argument(..., help="the new version's document")) -> None:
        """Register the next version of a PCR (POST /pcrs/{pcr_id}/versions); earlier ones stay."""
        body = read_doc(file)
        if isinstance(body, dict):
            body.pop("pcr_id", None)
        call("POST", f"/pcrs/{pcr_id}/versions", body)

    @pcr_app.command("list")
    def pcr_list(pcr_id: str = typer.Argument(None, help="one PCR's versions; default: all PCRs")) -> None:
        call("GET", f"/pcrs/{pcr_id}" if pcr_id else "/pcrs")
