"""``epd publisher ...``: partners and endpoints, and the replay of dead letters (settings from the environment)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import typer
from pydantic import ValidationError

from epd_common.audit_context import cli_actor
from epd_common.db import create_pool
from epd_publisher.endpoint_secrets import EndpointSecrets
from epd_publisher.errors import PublisherError
from epd_publisher.partners import (
    EndpointSpec,
    add_endpoint,
    add_partner,
    list_partners,
    replay_dead_letters,
    set_partner_enabled,
)
from epd_publisher.settings import PublisherSettings
from epd_records.recognition import DeliveryFormat, RecognitionAgreement

app = typer.Typer(help="Publisher: partner endpoints and dead letters.", no_args_is_help=True)
partners_app = typer.Typer(help="Partner bodies and their delivery endpoints.", no_args_is_help=True)
app.add_typer(partners_app, name="partners")


def _settings() -> PublisherSettings:
    """The settings, or exit 2 naming what is missing or invalid (e.g. EPD_PUBLISHER_SECRET_KEY)."""
    try:
        # The partner commands deliver nothing themselves, so they need no record-signing secret.
        return PublisherSettings(delivery_enabled=False)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"settings refused: {problems}", err=True)
        raise typer.Exit(2) from None


async def _with_pool(fn, settings: PublisherSettings | None = None):
    pool = await create_pool((settings or _settings()).pg_dsn, max_size=2, actor=cli_actor())
    try:
        return await fn(pool)
    finally:
        await pool.close()


@partners_app.command("add")
def partners_add(
    partner_id: str,
    name: str = typer.Option(...),
    country: str = typer.Option(...),
    agreement: Path = typer.Option(..., help="RecognitionAgreement JSON file"),
    endpoint_id: str = typer.Option(None),
    url: str = typer.Option(None),
    format: DeliveryFormat = typer.Option(DeliveryFormat.WEBHOOK_PACT),
    signing: str = typer.Option("hmac", help="hmac | ed25519 | none"),
    secret: str = typer.Option(None, envvar="EPD_PUBLISHER_ENDPOINT_SECRET"),
    token_url: str = typer.Option(None),
    client_id: str = typer.Option(None),
    client_secret: str = typer.Option(None, envvar="EPD_PUBLISHER_ENDPOINT_CLIENT_SECRET"),
    allow_private: bool = typer.Option(False, help="allow-list this endpoint's own host"),
) -> None:
    """Add or update a partner and its agreement; with --url, register one endpoint (SSRF-checked)."""
    try:
        parsed = RecognitionAgreement.model_validate(json.loads(agreement.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        typer.echo(f"agreement refused: {exc}", err=True)
        raise typer.Exit(2) from None

    settings = _settings()

    async def go(pool):
        await add_partner(pool, partner_id, name, country, parsed)
        if url:
            await add_endpoint(
                pool,
                EndpointSpec(
                    endpoint_id or f"{partner_id}-1",
                    partner_id,
                    url,
                    format,
                    signing,
                    secret,
                    token_url,
                    client_id,
                    client_secret,
                    allow_private,
                ),
                secrets=EndpointSecrets(settings.secret_key),
            )

    try:
        asyncio.run(_with_pool(go, settings))
    except (PublisherError, asyncpg.PostgresError) as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"partner {partner_id} saved" + (f", endpoint {url} registered" if url else ""))


@partners_app.command("list")
def partners_list() -> None:
    """Partners, endpoints, their state and queue sizes (JSON lines)."""
    for row in asyncio.run(_with_pool(list_partners)):
        typer.echo(json.dumps(row, default=str))


def _set_enabled(partner_id: str, enabled: bool) -> None:
    try:
        asyncio.run(_with_pool(lambda pool: set_partner_enabled(pool, partner_id, enabled)))
    except (PublisherError, asyncpg.PostgresError) as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"partner {partner_id} {'enabled' if enabled else 'disabled'}")


@partners_app.command("disable")
def partners_disable(partner_id: str) -> None:
    """Stop delivering to a partner and answering its clients; pending deliveries wait until it is enabled."""
    _set_enabled(partner_id, False)


@partners_app.command("enable")
def partners_enable(partner_id: str) -> None:
    """Deliver to the partner again (its held deliveries go out) and let its clients in again."""
    _set_enabled(partner_id, True)


@app.command("replay-dead-letters")
def replay(partner: str = typer.Option(None), endpoint: str = typer.Option(None)) -> None:
    """Queue dead deliveries again with a fresh retry budget."""
    count = asyncio.run(
        _with_pool(lambda pool: replay_dead_letters(pool, datetime.now(UTC), partner_id=partner, endpoint_id=endpoint))
    )
    typer.echo(f"{count} dead letters queued again")
