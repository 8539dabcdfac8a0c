"""The operator CLI `epd`: one typer app that mounts each service's command group.

Services contribute their commands through the `epd.cli` entry-point group in their own
pyproject.toml (e.g. `[project.entry-points."epd.cli"] footprint = "epd_footprint.cli:app"`), so
adding a command group never means editing this file. Run `uv sync --all-packages` after adding
an entry point.

A group is imported only when it is run (or when `epd --help` lists them all): importing every
service's commands took seconds per `epd` invocation (the footprint engine alone brings scipy and
pint), paid again by each operator command, script and test that runs the CLI.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import typer
from typer.core import TyperGroup

# The CLI's own commands beyond `topics`, loaded the same way as the contributed ones.
_OWN = {
    "status": "epd_cli.status:status",
    "verify": "epd_cli.verify:verify",
    "feed": "epd_cli.feed:app",
    "kafka": "epd_cli.kafka_cli:app",
}


@cache
def _lazy() -> dict[str, EntryPoint]:
    """Every command loaded on first use: the CLI's own, then the contributed ones (sorted)."""
    own = {name: EntryPoint(name, value, "epd.cli") for name, value in _OWN.items()}
    contributed = sorted(entry_points(group="epd.cli"), key=lambda e: e.name)
    return {**own, **{ep.name: ep for ep in contributed if ep.name not in own}}


# Commands and contexts are typer's vendored click classes (typer._click, private): typed Any here.
def _load(ep: EntryPoint) -> Any:
    """The entry point's commands as the root would have mounted them (add_typer, or command for a
    plain function): built under a stand-in root and taken from it."""
    sub = ep.load()
    holder = typer.Typer(add_completion=False)
    holder.callback()(lambda: None)  # a group, even with one command
    if isinstance(sub, typer.Typer):
        holder.add_typer(sub, name=ep.name)
    else:  # a plain function becomes a single command
        holder.command(name=ep.name)(sub)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[ep.name]


class _LazyGroup(TyperGroup):
    """The root: `topics`, and the other commands each imported on first use. Listing (help,
    completion) imports them all and orders them as typer does: commands, then groups, the CLI's own
    before the contributed (sorted)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _lazy():
            command = _load(_lazy()[cmd_name])
            self.add_command(command, cmd_name)
        return command

    def list_commands(self, ctx: Any) -> list[str]:
        eager = super().list_commands(ctx)
        names = eager + [n for n in _lazy() if n not in eager]
        for name in names:
            self.get_command(ctx, name)
        return [n for n in names if not isinstance(self.commands[n], TyperGroup)] + [
            n for n in names if isinstance(self.commands[n], TyperGroup)
        ]


app = typer.Typer(name="epd", help="Operate the rare-earth EPD platform.", no_args_is_help=True, cls=_LazyGroup)


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


if __name__ == "__main__":
    app()
