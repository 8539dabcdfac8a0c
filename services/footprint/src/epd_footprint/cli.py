"""`epd footprint compute FILE`: footprints of a product-system file, as rich tables or JSON; the
operator commands (register, import-epd, drift-events, approve, reject, withdraw, expire) are in admin_cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .admin_cli import register as register_admin_commands
from .engine import INDICATORS, MODULES, ProductFootprint, ProductSystemError, compute, load_file

app = typer.Typer(help="Product footprints from a value-chain (product-system) file.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Value-chain engine commands."""


@app.command("compute")
def compute_command(
    file: Path = typer.Argument(..., help="Product system, YAML or JSON (docs/product-system-format.md)"),
    product: list[str] = typer.Option(None, "--product", "-p", help="Product id (repeatable); default: all"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables"),
) -> None:
    """GWP by EN 15804 module per declared unit, scaling, background inventory and gases."""
    try:
        system = load_file(file)
        footprints = compute(system, product or None)
    except ProductSystemError as exc:
        if as_json:
            typer.echo(json.dumps({"error": exc.as_dict()}))
        else:
            Console(stderr=True).print(f"[red]error[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "system": system.name,
                    "gwp_set": system.gwp.name,
                    "gwp_source": system.gwp.source,
                    "footprints": [f.as_dict() for f in footprints],
                },
                indent=2,
            )
        )
        return
    console = Console()
    for fp in footprints:
        _print(console, fp)


register_admin_commands(app)


def _print(console: Console, fp: ProductFootprint) -> None:
    unit = f"{fp.declared_amount} {fp.declared_unit}"
    gwp = Table(title=f"{escape(fp.product)}: kg CO2e per {unit} ({fp.gwp_set})")
    gwp.add_column("indicator")
    for module in MODULES:
        gwp.add_column(module, justify="right")
    for indicator in INDICATORS:
        gwp.add_row(indicator, *(_fmt(fp.gwp[m][indicator]) for m in MODULES))
    console.print(gwp)
    scaling = Table(title="scaling (process runs, gross product output)")
    scaling.add_column("process")
    scaling.add_column("runs", justify="right")
    for name, value in fp.scaling.items():
        scaling.add_row(escape(name), _fmt(value))
    console.print(scaling)
    products = Table(title="intermediate products")
    products.add_column("product")
    products.add_column("amount", justify="right")
    products.add_column("unit")
    for name, (amount, u) in fp.products.items():
        products.add_row(escape(name), _fmt(amount), u)
    console.print(products)
    inventory = Table(title="cumulative background inventory")
    inventory.add_column("activity")
    inventory.add_column("amount", justify="right")
    inventory.add_column("unit")
    for name, (amount, u) in fp.background.items():
        inventory.add_row(escape(name) + (" (default factor)" if name in fp.default_factors else ""), _fmt(amount), u)
    console.print(inventory)
    gases = Table(title="emissions by gas (kg)")
    gases.add_column("gas")
    gases.add_column("kg", justify="right")
    for gas, amount in fp.emissions.items():
        gases.add_row(escape(gas), _fmt(amount))
    console.print(gases)
    for rec in fp.allocations:
        basis = f"; price basis: {rec.price_basis}; period: {rec.period}" if rec.price_basis else ""
        factors = ", ".join(f"{k} {_fmt(v)}" for k, v in rec.factors.items())
        console.print(escape(f"allocation {rec.process}: {rec.method.value} ({factors}){basis}"), highlight=False)


def _fmt(value) -> str:
    return f"{float(value):.6g}"
