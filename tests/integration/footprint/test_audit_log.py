"""The audit log on a fresh database: writes through the admin API (real HTTP) are logged with who and
why, other writers with their own name or their database role; the log is append-only through SQL;
`epd audit log --verify` holds, then names the row an owner changed (triggers disabled), the link a
recomputed hash breaks and the row deleted; concurrent writers make one linear chain; hostile `--since` is
exit 2 with a message."""

from __future__ import annotations

import asyncio
import base64
import json

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from epd_common.audit_context import cli_actor
from epd_common.db import create_pool
from epd_connector.keys import key_id_for
from epd_connector.signing import generate_private_key, load_private_key, public_key_to_raw
from epd_footprint.audit_cli import app
from tests.integration.admin_api import TOKEN, running_admin_api
from tests.integration.connector.telemetry_support import plant_yaml, register_at

REASON = "key copied to a lost laptop"


async def cli(dsn: str, *args: str):
    """`epd audit log ...` in a thread (the command runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, ["log", *args], env={"EPD_PG_DSN": dsn})


@pytest.fixture
async def logged(fresh_db, tmp_path, unique):
    """A plant registered, a key added and the first revoked through the admin API; a partner written by
    a CLI pool and one by plain SQL. Yields (dsn, plant id)."""
    plant_id = f"al{unique[:6]}"
    async with running_admin_api(fresh_db) as url:
        key_file = await register_at(url, plant_yaml(tmp_path, plant_id, unique, pin_key_id=False), tmp_path)
        first = key_id_for(load_private_key(key_file.read_bytes()).public_key())
        public = generate_private_key().public_key()
        body = {"key_id": key_id_for(public), "public_key": base64.b64encode(public_key_to_raw(public)).decode()}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            assert (await client.post(f"/plants/{plant_id}/keys", json=body)).status_code == 201
            resp = await client.post(f"/plants/{plant_id}/keys/{first}/revoke", json={"reason": REASON})
            assert resp.status_code == 200, resp.text
    pool = await create_pool(fresh_db, max_size=1, actor=cli_actor())
    try:
        await pool.execute(
            "INSERT INTO partners (partner_id, name, country, agreement) VALUES ('p-cli', 'P', 'DE', '{}')"
        )
    finally:
        await pool.close()
    conn = await asyncpg.connect(fresh_db)
    try:
        await conn.execute(
            "INSERT INTO partners (partner_id, name, country, agreement) VALUES ('p-sql', 'P', 'FR', '{}')"
        )
    finally:
        await conn.close()
    return fresh_db, plant_id


async def test_changes_are_logged_with_who_and_why_and_the_chain_holds(logged):
    dsn, plant_id = logged
    result = await cli(dsn, "--verify", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    rows, verdict = lines[:-1], lines[-1]
    assert verdict["verified"] is True and verdict["problems"] == [] and verdict["from_start"] is True
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)) and verdict["head"]["seq"] == len(rows)
    assert verdict["checked"] == len(rows)

    by_table = {(r["table"], r["operation"]) for r in rows}
    assert {
        ("organisations", "INSERT"),
        ("plants", "INSERT"),
        ("processes", "INSERT"),
        ("meters", "INSERT"),
    } <= by_table
    assert {("plant_keys", "INSERT"), ("plant_keys", "UPDATE"), ("partners", "INSERT")} <= by_table
    plant = next(r for r in rows if r["table"] == "plants")
    assert plant["actor"] == "admin-token" and plant["row_key"] == {"plant_id": plant_id} and plant["before"] is None
    assert plant["after"]["plant_id"] == plant_id
    revoked = next(r for r in rows if r["table"] == "plant_keys" and r["operation"] == "UPDATE")
    assert revoked["actor"] == "admin-token" and revoked["reason"] == REASON
    assert revoked["before"]["revoked_at"] is None and revoked["after"]["revocation_reason"] == REASON
    assert all(r["reason"] is None for r in rows if r is not revoked)  # a reason is the request's, not the pool's
    partners = {r["row_key"]["partner_id"]: r["actor"] for r in rows if r["table"] == "partners"}
    assert partners == {"p-cli": cli_actor(), "p-sql": "epd"}

    table = await cli(dsn, "--table", "plant_keys", "--since", "2", "--verify")
    assert table.exit_code == 0, table.output
    assert "UPDATE" in table.output and "partners" not in table.output and "organisations" not in table.output
    assert "from row 2, taking its stored prev_hash as given" in table.output
    later = await cli(dsn, "--since", "2999-01-01T00:00:00Z", "--verify")
    assert later.exit_code == 0 and "no rows from there to check" in later.output, later.output


async def test_the_log_refuses_changes_through_sql(logged):
    dsn, _ = logged
    conn = await asyncpg.connect(dsn)
    try:
        for sql in (
            "UPDATE audit_log SET actor = 'someone else' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 1",
            "TRUNCATE audit_log",
            "INSERT INTO audit_log SELECT * FROM audit_log WHERE seq = 1",
            "UPDATE audit_log_head SET seq = 1",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(sql)
    finally:
        await conn.close()
    assert (await cli(dsn, "--verify")).exit_code == 0


async def tamper(dsn: str, sql: str) -> None:
    """What an owner (or a superuser) can still do: change the log with its guard off."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            await conn.execute(sql)
            await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    finally:
        await conn.close()


async def test_verify_names_the_changed_row_the_broken_link_and_the_deleted_row(logged):
    dsn, _ = logged
    await tamper(dsn, "UPDATE audit_log SET actor = 'someone else' WHERE seq = 3")
    result = await cli(dsn, "--verify")
    assert result.exit_code == 1, result.output
    assert "row 3: its content does not match its hash" in result.output
    assert "chain does NOT hold" in result.output

    # The row's hash recomputed the way the trigger does: now the next row's link names it.
    await tamper(
        dsn,
        """UPDATE audit_log SET row_hash = sha256(convert_to(audit_log_canonical(
               seq, at, actor, reason, table_name, operation, row_key, before, after, prev_hash), 'UTF8'))
           WHERE seq = 3""",
    )
    result = await cli(dsn, "--verify", "--json")
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.output.splitlines()[-1])
    assert verdict["problems"] == ["row 4: prev_hash does not match row 3 (row 3 was changed)"]

    await tamper(dsn, "DELETE FROM audit_log WHERE seq = 6")
    result = await cli(dsn, "--verify", "--json")
    assert result.exit_code == 1
    problems = json.loads(result.output.splitlines()[-1])["problems"]
    assert problems == [
        "row 4: prev_hash does not match row 3 (row 3 was changed)",
        "row 6 is missing (the log goes from row 5 to row 7)",
    ]
    # Checked from row 5 on, only the deletion is left.
    result = await cli(dsn, "--verify", "--since", "5")
    assert result.exit_code == 1 and "row 6 is missing" in result.output and "row 4" not in result.output


@pytest.mark.parametrize("since", ["garbage", "2026-12-03T14:00:00", "-3", "9" * 40, "\x00"])
async def test_hostile_since_is_a_clear_error(since):
    result = await cli("postgresql://nobody@127.0.0.1:1/none", "--since", since)
    assert result.exit_code == 2, result.output
    assert "--since" in result.output and "Traceback" not in result.output


async def test_concurrent_writers_make_one_linear_chain(fresh_db):
    """Twelve transactions at once, each writing two audited rows: all commit, the chain has no fork and
    no gap, and each transaction's rows carry its own actor."""
    pool = await create_pool(fresh_db, max_size=6)

    async def write(i: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('epd.actor', $1, true)", f"writer-{i}")
            await conn.execute("INSERT INTO organisations (organisation_id, name) VALUES ($1, 'o')", f"o{i}")
            await asyncio.sleep(0)
            await conn.execute("UPDATE organisations SET name = 'renamed' WHERE organisation_id = $1", f"o{i}")

    try:
        await asyncio.gather(*(write(i) for i in range(12)))
        rows = await pool.fetch("SELECT seq, actor, operation, row_key->>'organisation_id' AS org FROM audit_log")
    finally:
        await pool.close()
    assert sorted(r["seq"] for r in rows) == list(range(1, 25))
    assert all(r["actor"] == f"writer-{r['org'][1:]}" for r in rows)
    result = await cli(fresh_db, "--verify", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["checked"] == 24
