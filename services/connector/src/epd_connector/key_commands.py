"""`epd connector keys | rotate-key | retire-key | revoke-key`: a plant key's life through the admin API.

Rotation with overlap, in the order that loses nothing:
1. a new key pair is made and its public key registered (in force from now on);
2. the key file is replaced atomically: a running connector signs its next batch with the new key
   (epd_connector.keys.KeyFile), and batches already signed with the old one stay valid;
3. the old key is retired at now + the overlap, which covers connectors that read the file later (a
   Secret volume is refreshed within a minute or two) and a restart where the YAML pins the key id.
A failure after step 1 leaves the old key in force and says what to run next.

Revocation is for a key that may have leaked: it takes a reason and the time from which the key stops
counting (default now; set it to when the leak may have begun). Ingest refuses every batch created, or
holding a reading observed, at or after that time with reason KEY_REVOKED, without a restart.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from epd_connector.admin_calls import AdminApi
from epd_connector.config import ConfigError, load_plant_config
from epd_connector.keys import key_id_for, write_key_pair
from epd_connector.signing import KeyLoadError, generate_private_key, load_private_key, public_key_to_raw


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=option) from None
    if at.tzinfo is None:
        raise typer.BadParameter("give the offset too (e.g. 2026-12-01T08:00:00+08:00)", param_hint=option)
    return at


def register(app: typer.Typer) -> None:
    @app.command("keys")
    def keys(plant_id: str = typer.Argument(..., help="the plant's id")) -> None:
        """List a plant's keys: status (active, retired, revoked), when they stopped counting, why."""
        with AdminApi() as api:
            answer = api.call("GET", f"/plants/{plant_id}/keys")
        table = Table("key id", "status", "registered", "retired at", "revoked at", "reason")
        for k in answer["keys"]:
            row = (k["created_at"], k["retired_at"], k["revoked_at"], k["revocation_reason"])
            table.add_row(k["key_id"], k["status"], *(v or "" for v in row))
        Console().print(table)

    @app.command("rotate-key")
    def rotate_key(
        plant_yaml: Path = typer.Argument(..., help="the plant's connector YAML"),
        key_file: Path = typer.Option(..., "--key-file", help="the connector's private key file; replaced"),
        overlap_seconds: int = typer.Option(
            900, "--overlap-seconds", min=0, max=7 * 86400, help="the old key stays in force this long"
        ),
    ) -> None:
        """Register a new key, put it in the key file (a running connector switches to it), retire the old
        key after the overlap."""
        try:
            plant = load_plant_config(plant_yaml)
            old = load_private_key(key_file.read_bytes())
        except (ConfigError, KeyLoadError, OSError) as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        old_id = plant.key_id or key_id_for(old.public_key())
        new = generate_private_key()
        new_id = key_id_for(new.public_key())
        with AdminApi() as api:
            public = base64.b64encode(public_key_to_raw(new.public_key())).decode()
            api.call("POST", f"/plants/{plant.plant_id}/keys", {"key_id": new_id, "public_key": public})
            typer.echo(f"registered {new_id} for {plant.plant_id}")
            try:
                write_key_pair(key_file, new)
            except OSError as exc:
                typer.echo(f"cannot replace {key_file} ({exc}); {old_id} stays in force, {new_id} is unused", err=True)
                raise typer.Exit(1) from exc
            typer.echo(f"{key_file} now holds {new_id}")
            retire_at = datetime.now(UTC) + timedelta(seconds=overlap_seconds)
            status, _ = api.send(
                "POST", f"/plants/{plant.plant_id}/keys/{old_id}/retire", {"effective_at": retire_at.isoformat()}
            )
        if status >= 400:
            typer.echo(
                f"{old_id} was not retired ({status}); run: epd connector retire-key {plant.plant_id} {old_id}",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(f"{old_id} retires at {retire_at.isoformat()}")
        if plant.key_id:
            typer.echo(
                f"{plant_yaml} pins key_id {plant.key_id}: remove that line and restart the connector before "
                f"{retire_at.isoformat()} (the new key is named by its thumbprint)",
                err=True,
            )

    @app.command("retire-key")
    def retire_key(
        plant_id: str = typer.Argument(...),
        key_id: str = typer.Argument(...),
        effective_at: str | None = typer.Option(None, "--effective-at", help="ISO 8601 with offset; default now"),
    ) -> None:
        """Retire a key: batches created from then on must be signed with another key in force."""
        at = _when(effective_at, "--effective-at")
        with AdminApi() as api:
            answer = api.call(
                "POST", f"/plants/{plant_id}/keys/{key_id}/retire", {"effective_at": at and at.isoformat()}
            )
        typer.echo(f"{key_id} of {plant_id} retired at {answer['retired_at']}")

    @app.command("revoke-key")
    def revoke_key(
        plant_id: str = typer.Argument(...),
        key_id: str = typer.Argument(...),
        reason: str = typer.Option(..., "--reason", help="why (kept with the key and shown by `keys`)"),
        effective_at: str | None = typer.Option(
            None, "--effective-at", help="ISO 8601 with offset: from when the key may have leaked; default now"
        ),
    ) -> None:
        """Revoke a key that may have leaked: ingest refuses what it signs from the effective time on."""
        at = _when(effective_at, "--effective-at")
        with AdminApi() as api:
            answer = api.call(
                "POST",
                f"/plants/{plant_id}/keys/{key_id}/revoke",
                {"reason": reason, "effective_at": at and at.isoformat()},
            )
        typer.echo(f"{key_id} of {plant_id} revoked from {answer['revoked_at']}: {answer['revocation_reason']}")
