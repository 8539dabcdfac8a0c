"""`epd intensity load-factors`: load the factor set versions into PostgreSQL (idempotent)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

app = typer.Typer(help="Intensity processor commands.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Intensity processor commands."""


@app.command("load-factors")
def load_factors(
    data_dir: Path = typer.Option(
        None, "--data-dir", help="Factor data folder (default: EPD_INTENSITY_FACTOR_DATA_DIR)"
    ),
    dsn: str = typer.Option(None, "--dsn", help="PostgreSQL DSN (default: EPD_PG_DSN)"),
) -> None:
    """Load every set-*.yaml version; loaded versions are immutable: same content is a no-op,
    changed content for a loaded version is refused (exit 2)."""
    from epd_common.audit_context import cli_actor
    from epd_common.db import create_pool
    from epd_intensity.factors import FactorDataError, load_library
    from epd_intensity.factors.db import FactorSetConflict, load_factor_set
    from epd_intensity.settings import IntensitySettings

    settings = IntensitySettings()
    try:
        library = load_library(data_dir or settings.factor_data_dir)
    except FactorDataError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def run() -> int:
        pool = await create_pool(dsn or settings.pg_dsn, actor=cli_actor())
        code = 0
        try:
            for factor_set in library.sets:
                try:
                    result = await load_factor_set(pool, factor_set)
                    typer.echo(f"{result.version}: {result.status} ({result.factors} factors)")
                except FactorSetConflict as exc:
                    typer.echo(f"error: {exc}", err=True)
                    code = 2
        finally:
            await pool.close()
        return code

    raise typer.Exit(asyncio.run(run()))
