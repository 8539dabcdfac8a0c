"""`epd audit ...`: reproduce a version, prove a reading is inside one, check a proof offline, read the
audit log and check its hash chain (`log`, audit_log_cli.py).

`reproduce` and `prove` read PostgreSQL (EPD_PG_DSN); `prove` signs the record it embeds with the
programme's record-signing key (EPD_RECORDS_KEY_SECRET, EPD_PROGRAMME_*), as the gateway would serve
it. `verify-proof` needs only the proof file and the programme's public JWKS.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import ssl
import uuid
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from epd_common import signing_keys
from epd_common.db import create_pool
from epd_common.settings import ProgrammeSettings
from epd_records.errors import RecordError
from epd_records.party import ProgrammeInfo
from epd_records.proof import verify_proof
from epd_records.signing import KeyRing

from .audit import AuditError, load_reproduction, prove
from .audit_log_cli import log_command
from .engine.numbers import decimal_text

app = typer.Typer(
    help="Reproduce EPD versions, prove readings are inside them, read the audit log.", no_args_is_help=True
)
app.command("log")(log_command)


@app.callback()
def _group() -> None:
    """Audit commands (services/footprint/README.md, Audit)."""


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.removeprefix("urn:uuid:"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a version id (a UUID or urn:uuid:...)") from None


async def _with_conn(settings: ProgrammeSettings, work: Any) -> Any:
    pool = await create_pool(settings.pg_dsn, max_size=2)
    try:
        async with pool.acquire() as conn:
            return await work(conn, pool)
    finally:
        await pool.close()


@app.command("reproduce")
def reproduce_command(
    version_id: str = typer.Argument(..., help="pf_id of the version (UUID or urn:uuid:...)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Recompute a version from its audit snapshot and the stored inputs; exit 1 on any difference."""
    pf_id, console = _uuid(version_id), Console()
    try:
        rep = asyncio.run(_with_conn(ProgrammeSettings(), lambda conn, _: load_reproduction(conn, pf_id)))
    except AuditError as exc:
        if as_json:
            typer.echo(json.dumps({"pf_id": str(pf_id), "reproduced": False, "error": str(exc)}))
        else:
            Console(stderr=True).print(f"[red]cannot reproduce[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(rep.as_json(), indent=2))
    else:
        table = Table(title=f"version {pf_id}: published and reproduced, kg CO2e per declared unit")
        for column in ("module", "indicator", "published", "reproduced", "equal"):
            table.add_column(column, justify="right" if column in ("published", "reproduced") else "left")
        for r in rep.rows:
            table.add_row(
                r.module,
                r.indicator,
                "-" if r.published is None else decimal_text(r.published),
                "-" if r.reproduced is None else decimal_text(r.reproduced),
                "[green]yes[/green]" if r.equal else "[red]NO[/red]",
            )
        console.print(table)
        for note in rep.notes:
            console.print(f"[yellow]note[/yellow] {escape(note)}", highlight=False)
        for difference in rep.differences:
            console.print(f"[red]differs[/red] {escape(difference)}", highlight=False)
        console.print("[green]reproduced exactly[/green]" if rep.ok else "[red]NOT reproduced[/red]")
    if not rep.ok:
        raise typer.Exit(1)


@app.command("prove")
def prove_command(
    reading: str = typer.Argument(..., help="a reading hash (64 hex), or METER@TIMESTAMP (ISO 8601 with a zone)"),
    version: str = typer.Option(None, "--version", help="the version to prove against (default: the latest)"),
    out: pathlib.Path = typer.Option(None, "--out", "-o", help="write the proof here (default: stdout)"),
) -> None:
    """A reading's inclusion proof: its hourly window, the version's window, the evidence root, the signed record."""
    settings = ProgrammeSettings()
    pf_id = _uuid(version) if version else None
    programme = ProgrammeInfo(operator_name=settings.programme_operator, extension_base_url=settings.extension_base_url)

    async def work(conn: Any, pool: Any) -> dict[str, Any]:
        stored = await signing_keys.load(pool, settings.signing_secret)
        ring = KeyRing.from_stored(stored.private_jwk, stored.retired_public_jwks)
        return await prove(conn, reading, programme, ring, pf_id)

    try:
        proof = asyncio.run(_with_conn(settings, work))
    except (AuditError, RecordError, signing_keys.SigningKeyError, ValueError) as exc:
        Console(stderr=True).print(f"[red]no proof[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    text = json.dumps(proof, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        Console(stderr=True).print(f"proof written to {escape(str(out))} (version {proof['version']['pf_id']})")


def _jwks(source: str, ca: pathlib.Path | None) -> dict[str, Any]:
    if source.startswith(("https://", "http://")):
        tls = ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()
        keys: dict[str, Any] = httpx.get(source, verify=tls, timeout=10).raise_for_status().json()
        return keys
    loaded: dict[str, Any] = json.loads(pathlib.Path(source).read_text())
    return loaded


@app.command("verify-proof")
def verify_proof_command(
    file: pathlib.Path = typer.Argument(..., help="a proof written by `epd audit prove`"),
    jwks: str = typer.Option(..., "--jwks", help="the programme's JWKS URL (gateway /.well-known/jwks.json) or file"),
    ca: pathlib.Path = typer.Option(None, "--ca", help="CA or self-signed certificate of the gateway"),
) -> None:
    """Check a proof offline with public material only; exit 1 when a step does not hold."""
    console = Console()
    try:
        proof = json.loads(file.read_text())
        keys = _jwks(jwks, ca)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        console.print(f"[red]cannot verify:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    try:
        steps = verify_proof(proof, keys) if isinstance(proof, dict) else []
        if not steps:
            raise AuditError("the file is not a proof")
    except (RecordError, AuditError) as exc:
        console.print(f"[red]proof does NOT hold:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    for step in steps:
        console.print(f"[green]ok[/green] {escape(step)}", highlight=False)
    console.print("[green]proof holds[/green]")
