"""`epd connector ...`: generate a plant key pair; register a plant (YAML + public key) through the footprint
admin API; replay a CSV through the connector; push credentials and the MQTT ACL (inputs_cli.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from pydantic import ValidationError

from epd_connector import key_commands
from epd_connector.admin_calls import AdminApi, refused
from epd_connector.config import ConfigError, load_plant_config
from epd_connector.errors import ConnectorError
from epd_connector.inputs_cli import mqtt_acl, push
from epd_connector.keys import key_id_for, write_key_pair
from epd_connector.registration import (
    RegistrationError,
    SiteOverrides,
    parse_assignments,
    parse_stages,
    site_request,
)
from epd_connector.signing import KeyLoadError, generate_private_key, load_public_key

app = typer.Typer(
    name="connector", help="Site connector: plant keys, registration, input credentials.", no_args_is_help=True
)
app.add_typer(push, name="push-credential")
app.command("mqtt-acl")(mqtt_acl)
key_commands.register(app)


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
    write_key_pair(out, key)
    typer.echo(f"wrote {out} (private, mode 600) and {pub} (public); key id {key_id_for(key.public_key())}")


@app.command("register-plant")
def register_plant_cmd(
    plant_yaml: Path = typer.Argument(..., help="the plant's connector YAML"),
    key_file: Path = typer.Option(..., "--key-file", help="the plant's public key (PEM or raw 32 bytes)"),
    organisation: str = typer.Option(
        None, help="organisation id (registered beforehand); default: site.organisation_id"
    ),
    name: str = typer.Option(None, help="plant name; default: site.name"),
    province: str = typer.Option(None, help="province (ISO 3166-2, e.g. CN-NM); default: site.province"),
    grid_region: str = typer.Option(None, help="grid region of the plant; default: site.grid_region"),
    process_name: list[str] = typer.Option(None, "--process-name", help="PROCESS_ID=NAME (repeatable)"),
    process_stage: list[str] = typer.Option(None, "--process-stage", help="PROCESS_ID=STAGE (repeatable)"),
    product_name: list[str] = typer.Option(None, "--product-name", help="PRODUCT_ID=NAME (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the request body instead of sending it"),
) -> None:
    """Register the plant, its processes, products, meters and public key through the footprint admin API
    (EPD_FOOTPRINT_ADMIN_URL, EPD_FOOTPRINT_ADMIN_TOKEN). Registering the same site again changes nothing;
    a site that differs from what is registered is refused (exit 1) and nothing changes."""
    try:
        plant = load_plant_config(plant_yaml)
        key = load_public_key(key_file.read_bytes())
        overrides = SiteOverrides(
            organisation_id=organisation,
            name=name,
            province=province,
            grid_region=grid_region,
            process_names=parse_assignments(process_name, "--process-name"),
            process_stages=parse_stages(process_stage),
            product_names=parse_assignments(product_name, "--product-name"),
        )
        body = site_request(plant, key, overrides)
    except (ConfigError, KeyLoadError, RegistrationError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if dry_run:
        typer.echo(json.dumps(body, indent=2))
        return
    with AdminApi() as api:
        status, answer = api.send("PUT", f"/plants/{plant.plant_id}/site", body)
    typer.echo(json.dumps(answer, indent=2))
    if status >= 400:
        refused(status, answer)


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
    from epd_connector.__main__ import serve
    from epd_connector.settings import ConnectorSettings

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
