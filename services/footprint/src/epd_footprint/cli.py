"""`epd footprint compute FILE`: footprints of a product-system file, as rich tables or JSON; the
operator commands (register, import-epd, drift-events, approve, reject, withdraw, expire) are in admin_cli.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .admin_cli import register as register_admin_commands
from .engine import (
    INDICATORS,
    MODULES,
    ProductFootprint,
    ProductSystemError,
    check_pcr,
    compile_system,
    iter_footprints,
    load_file,
    solve_system,
    write_json,
)
from .engine.numbers import float_text
from .pcrs import category_rule, read_pcr

app = typer.Typer(help="Product footprints from a value-chain (product-system) file.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Value-chain engine commands."""


@app.command("compute")
def compute_command(
    file: Path = typer.Argument(..., help="Product system, YAML or JSON (docs/product-system-format.md)"),
    product: list[str] = typer.Option(None, "--product", "-p", help="Product id (repeatable); default: all"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables (written as computed)"),
    pcr: Path = typer.Option(None, "--pcr", help="Check the products against this PCR (YAML/JSON, as POST /pcrs)"),
) -> None:
    """GWP by EN 15804 module per declared unit, scaling, background inventory and gases."""
    err = Console(stderr=True)
    try:
        system = load_file(file)
        wanted = product or list(system.products)
        if pcr is not None:
            rule = category_rule(read_pcr(pcr))
            for p in wanted:
                check_pcr(system, p, rule)
        results = solve_system(compile_system(system))
        for warning in results.warnings:
            err.print(f"[yellow]warning[/yellow] {escape(warning)}", highlight=False)
        if as_json:
            out = sys.stdout
            write_json(out, system, results, wanted)
            return
        console = Console()
        for fp in iter_footprints(results, wanted):
            _print(console, fp)
    except ProductSystemError as exc:
        if as_json:
            typer.echo(json.dumps({"error": exc.as_dict()}))
        else:
            err.print(f"[red]error[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


register_admin_commands(app)


def _print(console: Console, fp: ProductFootprint) -> None:
    unit = f"{fp.declared_amount} {fp.declared_unit}"
    digits = f"; {fp.digits} significant digits" if fp.digits < 12 else ""
    gwp = Table(title=f"{escape(fp.product)}: kg CO2e per {unit} ({fp.gwp_set}{digits})")
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
    products = Table(title="intermediate products (gross output; net = gross - own use)")
    products.add_column("product")
    products.add_column("gross", justify="right")
    products.add_column("net", justify="right")
    products.add_column("unit")
    for name, (gross, net, u) in fp.outputs.items():
        products.add_row(escape(name), _fmt(gross), _fmt(net), u)
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
        note = " (GWP value not a checked reference)" if gas in fp.unchecked_gwp else ""
        gases.add_row(escape(gas) + note, _fmt(amount))
    console.print(gases)
    for rec in fp.allocations:
        basis = f"; price basis: {rec.price_basis}; period: {rec.period}" if rec.price_basis else ""
        factors = ", ".join(f"{k} {_fmt(v)}" for k, v in rec.factors.items())
        console.print(escape(f"allocation {rec.process}: {rec.method.value} ({factors}){basis}"), highlight=False)


def _fmt(value) -> str:
    """Six significant digits, fixed-point (no exponent)."""
    return float_text(float(value), 6)
