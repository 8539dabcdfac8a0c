"""`epd audit log [--since SEQ|ISO-TIME] [--table T] [--verify] [--json]`: the audit log, its chain checked."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, cast

import asyncpg
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from epd_common.db import create_pool
from epd_common.settings import ServiceSettings

from . import audit_log
from .domain.audit_chain import ChainCheck, LogRow, parse_since


def _since(text: str | None) -> int | datetime | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def what(row: LogRow) -> str:
    """For people: the changed columns of an UPDATE, the whole row of an INSERT or DELETE, shortened."""
    before, after = _json(row.before) or {}, _json(row.after) or {}
    if row.operation == "UPDATE":
        changed = [k for k in after if before.get(k) != after.get(k)]
        return "; ".join(f"{k}: {_short(before.get(k), 30)} → {_short(after.get(k), 30)}" for k in changed)
    key = _json(row.row_key) or {}
    shown = {k: v for k, v in (after if row.operation == "INSERT" else before).items() if k not in key}
    return _short(", ".join(f"{k}={_short(v, 40)}" for k, v in shown.items()), 120)


def as_json(row: LogRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "reason": row.reason,
        "table": row.table_name,
        "operation": row.operation,
        "row_key": _json(row.row_key),
        "before": _json(row.before),
        "after": _json(row.after),
        "prev_hash": row.prev_hash.hex(),
        "row_hash": row.row_hash.hex(),
    }


async def _read(
    dsn: str, since: int | datetime | None, table: str | None, check: bool
) -> tuple[list[LogRow], audit_log.Verdict | None]:
    pool = await create_pool(dsn, max_size=1)
    shown: list[LogRow] = []
    chain = ChainCheck(from_start=since is None or since == 1)
    try:
        async with pool.acquire() as proxy, proxy.transaction(isolation="repeatable_read", readonly=True):
            conn = cast(asyncpg.Connection, proxy)
            head_seq, head_hash = await audit_log.head(conn)
            async for row, show in audit_log.walk(conn, since, table):
                if check:
                    chain.feed(row)
                if show:
                    shown.append(row)
    finally:
        await pool.close()
    return shown, (audit_log.verdict(chain, head_seq, head_hash) if check else None)


def log_command(
    since: str = typer.Option(None, "--since", help="from this row number, or this ISO 8601 time (with a zone)"),
    table: str = typer.Option(None, "--table", help="only changes of this table (e.g. epd_versions)"),
    verify: bool = typer.Option(
        False, "--verify", help="recompute every hash and link; exit 1 naming the first bad row"
    ),
    as_json_lines: bool = typer.Option(False, "--json", help="JSON lines (the last one the verdict with --verify)"),
) -> None:
    """Every change of the registry (plants, keys, products, EPD versions, partners, clients ...): who,
    when, what and why, each row chained to the one before by its hash."""
    start = _since(since)
    try:
        settings = ServiceSettings()
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        Console(stderr=True).print(f"[red]settings refused:[/red] {escape(problems)}", highlight=False)
        raise typer.Exit(2) from None
    try:
        shown, verdict = asyncio.run(_read(settings.pg_dsn, start, table, verify))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        Console(stderr=True).print(f"[red]cannot read the audit log:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    if as_json_lines:
        for row in shown:
            typer.echo(json.dumps(as_json(row), ensure_ascii=False))
        if verdict is not None:
            typer.echo(json.dumps(_verdict_json(verdict)))
    else:
        _print(shown, verdict)
    if verdict is not None and not verdict.ok:
        raise typer.Exit(1)


def _verdict_json(v: audit_log.Verdict) -> dict[str, Any]:
    return {
        "verified": v.ok,
        "checked": v.checked,
        "from_start": v.from_start,
        "first_seq": v.first_seq,
        "head": {"seq": v.head_seq, "row_hash": v.head_hash.hex()},
        "problems": v.problems,
    }


def _print(shown: list[LogRow], verdict: audit_log.Verdict | None) -> None:
    console = Console(soft_wrap=True)
    table = Table("seq", "at (UTC)", "actor", "table", "op", "key", "what", "reason")
    for row in shown:
        key = ", ".join(f"{v}" for v in (_json(row.row_key) or {}).values())
        table.add_row(
            str(row.seq),
            row.at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(row.actor),
            row.table_name,
            row.operation,
            escape(_short(key, 40)),
            escape(what(row)),
            escape(row.reason or ""),
        )
    console.print(table)
    if verdict is None:
        return
    if verdict.checked == 0 and not verdict.from_start:
        console.print(f"no rows from there to check; head row {verdict.head_seq} {verdict.head_hash.hex()}")
        return
    where = (
        "from row 1" if verdict.from_start else f"from row {verdict.first_seq}, taking its stored prev_hash as given"
    )
    if verdict.ok:
        console.print(
            f"[green]chain holds[/green]: {verdict.checked} rows checked {where}; "
            f"head row {verdict.head_seq} {verdict.head_hash.hex()}",
            highlight=False,
        )
        return
    console.print(f"[red]chain does NOT hold[/red] ({verdict.checked} rows checked {where}):", highlight=False)
    for problem in verdict.problems[:20]:
        console.print(f"[red]  {escape(problem)}[/red]", highlight=False)
    if len(verdict.problems) > 20:
        console.print(f"[red]  ... and {len(verdict.problems) - 20} more[/red]", highlight=False)
