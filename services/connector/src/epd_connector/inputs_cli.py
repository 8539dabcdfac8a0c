"""`epd connector push-credential add/list/revoke` (credentials of the HTTP push endpoint) and
`epd connector mqtt-acl` (the broker ACL for the plants' MQTT users).

The credential file is the one the connector reads (EPD_CONNECTOR_HTTP_CREDENTIALS_FILE, or --file);
the connector sees additions and revocations on its next request, without a restart. Rotation: add a
new credential, move the plant system to it, revoke the old one.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from epd_connector.config import ConfigError, load_plant_config
from epd_connector.errors import ConnectorError
from epd_connector.mqtt_access import acl_text, plant_user
from epd_connector.push_credentials import editing, load_file, new_credential, revoke

push = typer.Typer(help="Credentials of the HTTP push endpoint (one per plant system).", no_args_is_help=True)
FILE = typer.Option(
    ...,
    "--file",
    envvar="EPD_CONNECTOR_HTTP_CREDENTIALS_FILE",
    help="the connector's credential file (default: EPD_CONNECTOR_HTTP_CREDENTIALS_FILE)",
)


@push.command("add")
def add(
    plant: str = typer.Option(..., "--plant", help="the plant id the credential may push for"),
    name: str = typer.Option(..., "--name", help="which plant system holds it, e.g. scada-1"),
    meter: list[str] = typer.Option([], "--meter", help="limit it to these meter ids (repeatable; default: all)"),
    file: Path = FILE,
    as_json: bool = typer.Option(False, "--json", help="print the token as JSON"),
) -> None:
    """Create a credential; prints its token once (only an scrypt hash is stored)."""
    try:
        token, cred = new_credential(plant, name, meter)
        with editing(file) as creds:
            creds.append(cred)
    except ConnectorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps({"id": cred.id, "plant_id": cred.plant_id, "token": token}))
        return
    typer.echo(f"credential {cred.id} for {cred.plant_id} ({cred.name}); the token, shown only now:")
    typer.echo(token)


@push.command("list")
def list_credentials(file: Path = FILE) -> None:
    """The credentials of the file (never their secrets)."""
    try:
        creds = load_file(file)
    except ConnectorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    table = Table("id", "plant", "name", "meters", "created", "revoked")
    for c in sorted(creds.values(), key=lambda c: c.created_at):
        revoked = f"{c.revoked_at} {c.revoked_reason or ''}".strip() if c.revoked else ""
        table.add_row(c.id, c.plant_id, c.name, ", ".join(c.meters) or "all", c.created_at, revoked)
    Console().print(table)


@push.command("revoke")
def revoke_credential(
    credential_id: str = typer.Argument(..., help="the credential's id (see list)"),
    reason: str = typer.Option(..., "--reason", help="why (kept in the file)"),
    file: Path = FILE,
) -> None:
    """Revoke a credential; the connector refuses it from its next request (401 credential_revoked)."""
    try:
        with editing(file) as creds:
            creds[:] = revoke(creds, credential_id, reason)
    except ConnectorError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"revoked {credential_id}")


def mqtt_acl(
    plant_yaml: list[Path] = typer.Argument(..., help="plant YAML files; each plant id becomes one broker user"),
) -> None:
    """Print the Mosquitto acl_file that confines each plant's user to the topics its YAML binds."""
    try:
        users = [plant_user(load_plant_config(p)) for p in plant_yaml]
        typer.echo(acl_text(users), nl=False)
    except (ConfigError, ConnectorError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
