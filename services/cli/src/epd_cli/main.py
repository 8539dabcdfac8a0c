"""The operator CLI `epd`: one typer app that mounts each service's command group.

Services contribute their commands through the `epd.cli` entry-point group in their own
pyproject.toml (e.g. `[project.entry-points."epd.cli"] footprint = "epd_footprint.cli:app"`), so
adding a command group never means editing this file. Run `uv sync --all-packages` after adding
an entry point.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

app = typer.Typer(name="epd", help="Operate the rare-earth EPD platform.", no_args_is_help=True)


def _mount(root: typer.Typer) -> None:
    for ep in sorted(entry_points(group="epd.cli"), key=lambda e: e.name):
        sub = ep.load()
        if isinstance(sub, typer.Typer):
            root.add_typer(sub, name=ep.name)
        else:  # a plain function becomes a single command
            root.command(name=ep.name)(sub)


_mount(app)

if __name__ == "__main__":
    app()
