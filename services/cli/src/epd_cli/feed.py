"""`epd feed tail`: print the footprint change feed (epd.footprint.changes.v1) as registries see it."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from epd.v1 import footprint_pb2
from epd_common.kafka import make_consumer
from epd_common.settings import ServiceSettings
from epd_common.topics import FOOTPRINT_CHANGES, MalformedRecord

app = typer.Typer(help="The footprint change feed.", no_args_is_help=True)


@app.command()
def tail(
    from_beginning: bool = typer.Option(False, "--from-beginning", help="start at the oldest retained event"),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="keep waiting for new events"),
    limit: int = typer.Option(0, min=0, help="stop after this many events (0: no limit)"),
) -> None:
    """Print each FootprintChanged event: product, version, change, pf id, reason."""
    settings = ServiceSettings()
    asyncio.run(_tail(settings, from_beginning, follow, limit, Console()))


async def _tail(settings: ServiceSettings, from_beginning: bool, follow: bool, limit: int, console: Console) -> None:
    # No group: tailing never moves a registry's committed position.
    consumer = make_consumer(
        settings.kafka,
        None,
        FOOTPRINT_CHANGES.topic(settings.topic_prefix),
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    shown = 0
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch and not follow:
                return
            for records in batch.values():
                for rec in records:
                    try:
                        ev = FOOTPRINT_CHANGES.decode(rec.value)
                    except MalformedRecord as exc:
                        console.print(f"[red]malformed record at offset {rec.offset}: {exc}[/red]")
                        continue
                    change = (
                        footprint_pb2.FootprintChangeType.Name(ev.change_type)
                        .removeprefix("FOOTPRINT_CHANGE_TYPE_")
                        .lower()
                    )
                    console.print(
                        f"{ev.occurred_at.ToJsonString()}  {ev.product_id:<22} v{ev.version:<3} "
                        f"{change:<10} {ev.pf_id}  {ev.footprint.reason[:80]}"
                    )
                    shown += 1
                    if limit and shown >= limit:
                        return
    finally:
        await consumer.stop()
