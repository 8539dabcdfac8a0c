"""`epd admin users add|list|disable`: people of the footprint admin API, straight in the database
(EPD_PG_DSN), like `epd gateway clients add`: the bootstrap needs no running API and no key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="People of the footprint admin API and their roles.", no_args_is_help=True)
users = typer.Typer(help="Admin API users: operator, verifier, auditor.", no_args_is_help=True)
app.add_typer(users, name="users")


@app.callback()
def _group() -> None:
    """Admin commands."""


def _run(fn: Callable[[Any], Awaitable[Any]]) -> Any:
    from epd_common.db import create_pool
    from epd_common.settings import ServiceSettings

    from .user_store import UserError

    async def go() -> Any:
        pool = await create_pool(ServiceSettings().pg_dsn, max_size=2)
        try:
            return await fn(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(go())
    except UserError as exc:
        Console(stderr=True).print(f"[red]error[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


@users.command("add")
def add(
    name: str = typer.Argument(..., help="The person's name (unique; shown on the decisions they make)"),
    role: list[str] = typer.Option(..., "--role", help="operator | verifier | auditor (repeatable)"),
) -> None:
    """Create a user; prints the API key once (epdk_<key_id>_<secret>; only an scrypt hash is stored)."""
    from .user_store import add_user
    from .users import parse_roles

    try:
        roles = parse_roles(role)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    user = _run(lambda pool: add_user(pool, name, roles))
    typer.echo(json.dumps({"user_id": user.user_id, "name": user.name, "roles": user.roles, "api_key": user.api_key}))


@users.command("list")
def list_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Users, their roles and key ids (never a secret)."""
    from .user_store import list_users

    rows = _run(list_users)
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    table = Table("user", "name", "roles", "key id", "created", "disabled")
    for r in rows:
        table.add_row(
            r["user_id"],
            escape(r["name"]),
            ", ".join(r["roles"]),
            r["key_id"],
            str(r["created_at"]),
            str(r["disabled_at"] or ""),
        )
    Console().print(table)


@users.command("disable")
def disable(name: str) -> None:
    """Disable a user: its key is refused from the next request on; its decisions keep naming it."""
    from .user_store import disable_user

    typer.echo(json.dumps(_run(lambda pool: disable_user(pool, name)), default=str))
