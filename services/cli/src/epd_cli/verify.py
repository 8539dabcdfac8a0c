"""`epd verify`: check what the programme signed, against its JWKS (services/gateway/README.md, Signatures).

Two signatures, one key set:
- every response body and webhook body: `x-epd-signature`, a detached JWS over the exact bytes
  (any format: PACT JSON, ILCD+EPD XML, openEPD JSON). Save the body as received and pass the
  header with `--body-signature`.
- every PACT record inside (a single GET, a list page, a webhook payload's `data`, or a bare
  record): its `epd-signature/1.0.0` extension, a detached JWS over the RFC 8785 JSON of the
  record without that extension; checked whenever the file holds PACT records.
"""

from __future__ import annotations

import json
import pathlib
import ssl
from typing import Any

import httpx
import typer
from rich.console import Console

from epd_records.errors import SignatureError
from epd_records.record import verify_pact_record
from epd_records.signing import verify_payload


def pact_records(document: Any) -> list[dict[str, Any]]:
    """The PACT records a JSON document carries: `{data: record}`, `{data: [records]}`, a webhook
    payload `{type, timestamp, data: record}`, or a bare record."""
    if not isinstance(document, dict):
        return []
    data = document.get("data")
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        return [data] if "extensions" in data else []
    return [document] if "extensions" in document and "pcf" in document else []


def _jwks(source: str, ca: pathlib.Path | None) -> dict[str, Any]:
    if source.startswith(("https://", "http://")):
        tls = ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()
        keys: dict[str, Any] = httpx.get(source, verify=tls, timeout=10).raise_for_status().json()
        return keys
    loaded: dict[str, Any] = json.loads(pathlib.Path(source).read_text())
    return loaded


def verify(
    file: str = typer.Argument(..., help="the body as received (PACT JSON, ILCD XML, openEPD JSON), or - for stdin"),
    jwks: str = typer.Option(..., "--jwks", help="the programme's JWKS URL (gateway /.well-known/jwks.json) or file"),
    body_signature: str | None = typer.Option(
        None, "--body-signature", help="the x-epd-signature header that came with the body"
    ),
    ca: pathlib.Path | None = typer.Option(None, "--ca", help="CA or self-signed certificate of the gateway"),
) -> None:
    """Verify the body signature and every embedded record signature; exit 1 when one does not verify."""
    console = Console()
    try:
        body = typer.get_binary_stream("stdin").read() if file == "-" else pathlib.Path(file).read_bytes()
        keys = _jwks(jwks, ca)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        console.print(f"[red]cannot verify:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        document = json.loads(body)
    except ValueError:
        document = None  # XML, or not JSON at all: only the body signature applies
    records = pact_records(document)
    if body_signature is None and not records:
        console.print("[red]cannot verify:[/red] no PACT record in the file; pass the x-epd-signature header")
        raise typer.Exit(2)
    failed = False
    if body_signature is not None:
        try:
            kid = verify_payload(body, body_signature.strip(), keys)
            console.print(f"[green]body signature verifies[/green] (key {kid}, {len(body)} bytes)")
        except SignatureError as exc:
            console.print(f"[red]body signature does NOT verify:[/red] {exc}")
            failed = True
    for record in records:
        try:
            kid = verify_pact_record(record, keys)
            console.print(f"[green]record signature verifies[/green] (key {kid}) for {record.get('id', '?')}")
        except SignatureError as exc:
            console.print(f"[red]record signature does NOT verify[/red] for {record.get('id', '?')}: {exc}")
            failed = True
    if failed:
        raise typer.Exit(1)
