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


@app.callback()
def main() -> None:
    """Operate the rare-earth EPD platform (settings from the environment, see .env.example)."""


@app.command()
def topics() -> None:
    """List the Kafka topics of the platform: message type, key and partitions."""
    from rich.console import Console
    from rich.table import Table

    from epd_common.topics import ALL_TOPICS

    table = Table("topic", "message", "key", "partitions", "compacted")
    for spec in ALL_TOPICS:
        table.add_row(
            spec.name,
            f"epd.v1.{spec.message_type.__name__}",
            spec.key,
            str(spec.partitions),
            "yes" if spec.compacted else "no",
        )
    Console().print(table)


def _own_commands(root: typer.Typer) -> None:
    from . import feed, status, verify

    root.command("status")(status.status)
    root.command("verify")(verify.verify)
    root.add_typer(feed.app, name="feed")


def _mount(root: typer.Typer) -> None:
    for ep in sorted(entry_points(group="epd.cli"), key=lambda e: e.name):
        sub = ep.load()
        if isinstance(sub, typer.Typer):
            root.add_typer(sub, name=ep.name)
        else:  # a plain function becomes a single command
            root.command(name=ep.name)(sub)


_own_commands(app)
_mount(app)

if __name__ == "__main__":
    app()
