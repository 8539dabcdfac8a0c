"""`epd connector ...`: generate a plant key pair; register a plant (YAML + public key) in the registry."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import typer
from pydantic import ValidationError

from epd_connector.config import ConfigError, load_plant_config
from epd_connector.errors import ConnectorError
from epd_connector.registration import PlantSite, RegistrationError, register_plant
from epd_connector.signing import (
    KeyLoadError,
    generate_private_key,
    load_public_key,
    private_key_to_pem,
    public_key_to_pem,
)

app = typer.Typer(name="connector", help="Site connector: plant keys and registration.", no_args_is_help=True)


@app.command()
def keygen(
    out: Path = typer.Argument(..., help="private key file to write (PEM); the public key goes to OUT.pub"),
    force: bool = typer.Option(False, help="overwrite existing files"),
) -> None:
    """Generate an Ed25519 key pair for a plant's connector."""
    pub = out.with_name(out.name + ".pub")
    if not force and (out.exists() or pub.exists()):
        typer.echo(f"{out} or {pub} exists; use --force to overwrite", err=True)
        raise typer.Exit(2)
    key = generate_private_key()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_key_to_pem(key))
    pub.write_bytes(public_key_to_pem(key.public_key()))
    typer.echo(f"wrote {out} (private, mode 600) and {pub} (public)")


@app.command("register-plant")
def register_plant_cmd(
    plant_yaml: Path = typer.Argument(..., help="the plant's connector YAML"),
    key_file: Path = typer.Option(..., "--key-file", help="the plant's public key (PEM or raw 32 bytes)"),
    organisation: str = typer.Option(None, help="organisation id (default: the plant id)"),
    name: str = typer.Option(None, help="plant name (default: the plant id)"),
    province: str = typer.Option("Inner Mongolia", help="province"),
    grid_region: str = typer.Option("north", help="grid region of the plant"),
    dsn: str = typer.Option(None, envvar="EPD_PG_DSN", help="PostgreSQL DSN"),
) -> None:
    """Upsert the plant, its processes, meters and public key in the registry."""
    try:
        plant = load_plant_config(plant_yaml)
        key = load_public_key(key_file.read_bytes())
    except (ConfigError, KeyLoadError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    site = PlantSite(organisation or plant.plant_id, name or plant.plant_id, province, grid_region)

    async def _run() -> None:
        conn = await asyncpg.connect(dsn or "postgresql://epd:epd@127.0.0.1:55432/epd")
        try:
            await register_plant(conn, plant, site, key)
        finally:
            await conn.close()

    try:
        asyncio.run(_run())
    except RegistrationError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"registered plant {plant.plant_id}: {len(plant.meters)} meters, key {plant.key_id}")


@app.command("replay")
def replay(
    csv_file: Path = typer.Argument(..., help="CSV of readings (columns as bound in the plant YAML)"),
    plant_config: Path = typer.Option(..., "--plant", help="the plant's connector YAML"),
    key_file: Path = typer.Option(..., "--key-file", help="the plant's private signing key (PEM)"),
    state: Path | None = typer.Option(None, help="resume state file (default: CSV_FILE.state.json)"),
    rows_per_second: float = typer.Option(0.0, min=0, help="throttle (0: as fast as the spool takes them)"),
    spool_dir: Path = typer.Option(Path(".run/spool"), help="the connector spool folder"),
) -> None:
    """Backfill: replay a CSV through the connector (signed, spooled, sent) with a progress bar; resumable."""
    from epd_connector.__main__ import ConnectorSettings, serve

    try:
        settings = ConnectorSettings(
            plant_config=plant_config,
            key_file=key_file,
            sources="files",
            files_path=csv_file,
            files_state=state,
            files_rows_per_second=rows_per_second,
            files_progress=True,
            exit_when_drained=True,
            spool_dir=spool_dir,
            metrics_port=0,
        )
        asyncio.run(serve(settings, asyncio.Event()))
    except (OSError, ValidationError, ConnectorError) as exc:
        typer.echo(f"replay failed: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"replayed {csv_file} for {settings.plant_config}")
