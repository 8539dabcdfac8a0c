"""`epd verify`: check a signed ProductFootprint from the gateway against the gateway's JWKS.

The record carries its detached JWS in the `epd-signature/1.0.0` data-model extension and signs the
RFC 8785 JSON of the record without that extension (services/gateway/README.md, Signatures).
"""

from __future__ import annotations

import json
import pathlib
import ssl

import httpx
import typer
from rich.console import Console

from epd_gateway.catalogue import SIGNATURE_EXTENSION
from epd_gateway.signing import SignatureError, verify_record


def signature_of(record: dict) -> tuple[dict, str]:
    """(the record as signed, its JWS); ValueError when the record carries no signature extension."""
    kept, jws = [], None
    for ext in record.get("extensions") or []:
        if isinstance(ext, dict) and SIGNATURE_EXTENSION in str(ext.get("dataSchema", "")):
            jws = (ext.get("data") or {}).get("jws")
        else:
            kept.append(ext)
    if not isinstance(jws, str):
        raise ValueError(f"the record has no {SIGNATURE_EXTENSION} extension with a JWS")
    return {**record, "extensions": kept}, jws


def verify(
    record: str = typer.Argument(..., help="a JSON file holding a ProductFootprint, or - for standard input"),
    jwks: str = typer.Option(..., "--jwks", help="the gateway's JWKS URL or a JSON file"),
    ca: pathlib.Path | None = typer.Option(None, "--ca", help="CA or self-signed certificate of the gateway"),
) -> None:
    """Verify a record's signature against the JWKS; exit 1 when it does not verify."""
    console = Console()
    try:
        text = typer.get_text_stream("stdin").read() if record == "-" else pathlib.Path(record).read_text()
        doc = json.loads(text)
        if isinstance(doc, dict) and isinstance(doc.get("data"), dict):  # a GET /3/footprints/{id} answer
            doc = doc["data"]
        signed, jws = signature_of(doc)
        if jwks.startswith("https://") or jwks.startswith("http://"):
            tls = ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()
            keys = httpx.get(jwks, verify=tls, timeout=10).raise_for_status().json()
        else:
            keys = json.loads(pathlib.Path(jwks).read_text())
        kid = verify_record(signed, jws, keys)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        console.print(f"[red]cannot verify:[/red] {exc}")
        raise typer.Exit(2) from exc
    except SignatureError as exc:
        console.print(f"[red]signature does NOT verify:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]signature verifies[/green] (key {kid}) for {doc.get('id', '?')}")
