"""``epd publisher`` commands against a fresh database: SSRF refusal, bad agreement, list, replay,
disable and enable."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import asyncpg
from publisher_helpers import SECRET_KEY, endpoint_secrets
from typer.testing import CliRunner

from epd_publisher import cli as publisher_cli
from epd_publisher.endpoint_secrets import SecretColumn
from tests.support.pcrs import register_pcrs

AGREEMENT = {
    "partner_id": "jp-body",
    "product_classes": ["hs:8505"],
    "pcrs": [{"pcr_id": "PCR-magnets"}],
    "standards": ["EN 15804+A2"],
}
SECRET = "whsec_" + "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="


def epd(dsn: str, *args: str, **env_over: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, EPD_PG_DSN=dsn, EPD_PUBLISHER_ENDPOINT_SECRET=SECRET, EPD_PUBLISHER_SECRET_KEY=SECRET_KEY)
    env.update(env_over)
    env = {k: v for k, v in env.items() if v}  # an empty override removes the variable
    return subprocess.run(
        [sys.executable, "-m", "epd_cli.main", "publisher", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_partner_commands(fresh_db, tmp_path):
    good = tmp_path / "agreement.json"
    good.write_text(json.dumps(AGREEMENT))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**AGREEMENT, "product_classes": ["not a class"]}))
    base = ["partners", "add", "jp-body", "--name", "Japan body", "--country", "JP"]

    refused = epd(fresh_db, *base, "--agreement", str(bad))
    assert refused.returncode == 2 and "agreement refused" in refused.stderr
    unregistered = epd(fresh_db, *base, "--agreement", str(good))
    assert unregistered.returncode == 2 and "PCR PCR-magnets is not registered" in unregistered.stderr
    asyncio.run(_register(fresh_db))
    private = epd(fresh_db, *base, "--agreement", str(good), "--url", "https://10.0.0.1/hooks")
    assert private.returncode == 2 and "private" in private.stderr
    ok = epd(fresh_db, *base, "--agreement", str(good), "--url", "http://127.0.0.1:9/hooks", "--allow-private")
    assert ok.returncode == 0, ok.stderr
    rows = [json.loads(line) for line in epd(fresh_db, "partners", "list").stdout.splitlines()]
    urls = [r["url"] for r in rows]
    assert urls == ["http://127.0.0.1:9/hooks"] and rows[0]["allow_private"] is True
    replay = epd(fresh_db, "replay-dead-letters", "--partner", "jp-body")
    assert replay.returncode == 0 and "0 dead letters" in replay.stdout

    # In-process (CliRunner) from here on: a subprocess costs seconds of imports per command.
    def run(*args: str):
        env = {"EPD_PG_DSN": fresh_db, "EPD_PUBLISHER_SECRET_KEY": SECRET_KEY}
        return CliRunner().invoke(publisher_cli.app, list(args), env=env)

    def disabled() -> bool:
        (row,) = [json.loads(line) for line in run("partners", "list").stdout.splitlines()]
        return row["partner_disabled"]

    off = run("partners", "disable", "jp-body")
    assert off.exit_code == 0 and "jp-body disabled" in off.stdout and disabled()
    unknown = run("partners", "disable", "xx-body")
    assert unknown.exit_code == 2 and "no partner" in unknown.stderr
    on = run("partners", "enable", "jp-body")
    assert on.exit_code == 0 and not disabled()


async def _register(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await register_pcrs(conn, ("PCR-magnets", "1.0"))
    finally:
        await conn.close()


async def _sealed(dsn: str) -> bytes:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT secret_sealed FROM partner_endpoints WHERE endpoint_id = 'jp-body-1'")
    finally:
        await conn.close()


def test_partners_add_stores_the_secret_encrypted_and_needs_the_key(fresh_db, tmp_path):
    asyncio.run(_register(fresh_db))
    good = tmp_path / "agreement.json"
    good.write_text(json.dumps(AGREEMENT))
    add = [
        "partners",
        "add",
        "jp-body",
        "--name",
        "Japan body",
        "--country",
        "JP",
        "--agreement",
        str(good),
        "--url",
        "http://127.0.0.1:9/hooks",
        "--allow-private",
    ]

    missing = epd(fresh_db, *add, EPD_PUBLISHER_SECRET_KEY="")
    assert missing.returncode == 2 and "EPD_PUBLISHER_SECRET_KEY" in missing.stderr, missing.stderr
    short = epd(fresh_db, *add, EPD_PUBLISHER_SECRET_KEY="too-short")
    assert short.returncode == 2 and "EPD_PUBLISHER_SECRET_KEY" in short.stderr, short.stderr

    assert epd(fresh_db, *add).returncode == 0
    first = asyncio.run(_sealed(fresh_db))
    assert SECRET.encode() not in first and SECRET.split("_", 1)[1].encode() not in first
    assert endpoint_secrets().open("jp-body-1", SecretColumn.WEBHOOK, first) == SECRET
    # Registering again (e.g. to rotate the secret) replaces the endpoint: a fresh nonce, the new secret.
    rotated = "whsec_" + "bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmU="
    assert epd(fresh_db, *add, EPD_PUBLISHER_ENDPOINT_SECRET=rotated).returncode == 0
    second = asyncio.run(_sealed(fresh_db))
    assert second != first and endpoint_secrets().open("jp-body-1", SecretColumn.WEBHOOK, second) == rotated
