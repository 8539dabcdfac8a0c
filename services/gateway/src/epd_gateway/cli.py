"""`epd gateway rotate-key`, `epd gateway materialise` and `epd gateway clients add`: signing keys, stored
records and OAuth2 clients.

Settings from the environment (EPD_PG_DSN, EPD_RECORDS_KEY_SECRET)."""

from __future__ import annotations

import asyncio
import json
import re

import typer

app = typer.Typer(help="PACT gateway: signing keys and OAuth2 clients.", no_args_is_help=True)
clients = typer.Typer(help="OAuth2 clients of foreign bodies (one per partner agreement).", no_args_is_help=True)
app.add_typer(clients, name="clients")


@app.callback()
def _group() -> None:
    """Gateway commands."""


def _settings():
    from epd_gateway.settings import GatewaySettings

    return GatewaySettings()


async def _with_pool(dsn: str, fn):
    from epd_common.audit_context import cli_actor
    from epd_common.db import create_pool

    pool = await create_pool(dsn, max_size=2, actor=cli_actor())
    try:
        return await fn(pool)
    finally:
        await pool.close()


@app.command("rotate-key")
def rotate_key() -> None:
    """Make a new record-signing key current; the old one is retired but stays in the JWKS forever.

    The gateway and the publisher pick the new key up within their refresh interval."""
    from epd_gateway.keystore import rotate_key as rotate

    settings = _settings()
    kid = asyncio.run(_with_pool(settings.pg_dsn, lambda pool: rotate(pool, settings.signing_secret)))
    typer.echo(json.dumps({"kid": kid}))


@app.command("materialise")
def materialise(
    documents: bool = typer.Option(
        False, "--documents", help="also the ILCD+EPD and openEPD documents of versions that have none current"
    ),
) -> None:
    """Render, sign and store every record that has no current stored one (after a key rotation or a bulk
    load), for both viewer variants, and delete records and documents signed by retired keys; prints the
    counts.

    The gateway renders what changes ahead of the first read, and anything missing on first read anyway:
    this moves the work for what it has never seen (a bulk load, a new key) ahead."""
    from epd_gateway.catalogue import Catalogue
    from epd_gateway.keystore import load_key_ring
    from epd_gateway.repository import Repository
    from epd_gateway.wiring import programme_info
    from epd_records.status import Viewer

    settings = _settings()

    async def run(pool):
        ring = await load_key_ring(pool, settings.signing_secret)
        repository = Repository(pool, programme_info(settings).product_id_prefix)
        catalogue = Catalogue(repository, programme_info(settings))
        rendered = {str(p): await catalogue.materialise(Viewer(p), ring) for p in (False, True)}
        out = {"kid": ring.kid, "rendered": rendered}
        if documents:
            out["documents"] = {
                str(p): await catalogue.materialise(Viewer(p), ring, documents=True) for p in (False, True)
            }
        retired = await repository.drop_retired(ring.kid) + await catalogue.documents.drop_retired(ring.kid)
        return {**out, "retired_deleted": retired}

    typer.echo(json.dumps(asyncio.run(_with_pool(settings.pg_dsn, run))))


@clients.command("add")
def add_client(
    client_id: str = typer.Argument(..., help="Client id, [A-Za-z0-9._-]{1,100}"),
    partner_id: str = typer.Option(..., "--partner", help="Partner (recognition agreement) the client acts for"),
    scope: list[str] = typer.Option(["footprint:list", "footprint:read", "events:write"], "--scope"),
) -> None:
    """Create a client; prints its secret once (only an scrypt hash is stored)."""
    from asyncpg import ForeignKeyViolationError, UniqueViolationError

    from epd_common import crypto
    from epd_gateway import tokens
    from epd_gateway.repository import Repository

    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", client_id):
        typer.echo("client id must match [A-Za-z0-9._-]{1,100}", err=True)
        raise typer.Exit(2)
    unknown = set(scope) - tokens.SCOPES
    if unknown:
        typer.echo(f"unknown scopes {sorted(unknown)}; known: {sorted(tokens.SCOPES)}", err=True)
        raise typer.Exit(2)
    secret = crypto.new_client_secret()
    settings = _settings()
    try:
        asyncio.run(
            _with_pool(
                settings.pg_dsn,
                lambda pool: Repository(pool, "").add_client(client_id, partner_id, crypto.hash_secret(secret), scope),
            )
        )
    except ForeignKeyViolationError:
        typer.echo(f"no partner {partner_id!r}", err=True)
        raise typer.Exit(2) from None
    except UniqueViolationError:
        typer.echo(f"client {client_id!r} exists", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"client_id": client_id, "partner_id": partner_id, "client_secret": secret}))
