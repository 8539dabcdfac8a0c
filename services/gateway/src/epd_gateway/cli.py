"""`epd gateway ...`: operator commands of the gateway (filled in below)."""

from __future__ import annotations

import typer

app = typer.Typer(help="PACT gateway: signing keys and OAuth2 clients.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Gateway commands."""
