"""Migration 0005_publisher_secrets on a database holding plain-text secrets: the plain columns go,
endpoints that had a secret are disabled with the re-registration reason (their pending deliveries
stay pending), and registering the endpoint again stores the secret sealed and enables it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from publisher_helpers import endpoint_secrets

from epd_publisher.endpoint_secrets import SecretColumn
from epd_publisher.partners import EndpointSpec, add_endpoint
from epd_records.recognition import DeliveryFormat

REPO = Path(__file__).resolve().parents[3]
SECRET = "whsec_" + "cGxhaW5wbGFpbnBsYWlucGxhaW5wbGFpbnBsYWlucGw="


def alembic(dsn: str, *args: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(REPO / "db" / "alembic.ini"), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, EPD_PG_DSN=dsn),
        cwd=REPO,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr


async def test_plain_secrets_are_dropped_and_their_endpoints_wait_for_re_registration(fresh_db):
    alembic(fresh_db, "downgrade", "0004_gateway_perf")
    conn = await asyncpg.connect(fresh_db)
    try:
        await conn.execute("""
            INSERT INTO partners (partner_id, name, country, agreement) VALUES ('p', 'P', 'DE', '{}');
            INSERT INTO partner_endpoints (endpoint_id, partner_id, url, format, signing, secret)
                VALUES ('hook', 'p', 'http://127.0.0.1:9/h', 'webhook-pact', 'hmac', 'whsec_cGxhaW4='),
                       ('open', 'p', 'http://127.0.0.1:9/o', 'webhook-pact', 'none', NULL);
            INSERT INTO deliveries (event_id, endpoint_id, partner_id, product_id, product_sequence, payload,
                                    next_attempt_at)
                VALUES (gen_random_uuid(), 'hook', 'p', 'magnet-a', 1, '\\x00', now())""")
    finally:
        await conn.close()
    alembic(fresh_db, "upgrade", "heads")

    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=2)
    try:
        columns = {
            r["column_name"]
            for r in await pool.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'partner_endpoints'"
            )
        }
        assert {"secret_sealed", "client_secret_sealed"} <= columns and not {"secret", "client_secret"} & columns
        rows = {r["endpoint_id"]: r for r in await pool.fetch("SELECT * FROM partner_endpoints")}
        hook = rows["hook"]
        assert hook["disabled_at"] is not None and "register the endpoint again" in hook["disabled_reason"]
        assert rows["open"]["disabled_at"] is None  # no secret, nothing to re-register
        assert await pool.fetchval("SELECT state FROM deliveries") == "pending"

        await add_endpoint(
            pool,
            EndpointSpec(
                "hook", "p", "http://127.0.0.1:9/h", DeliveryFormat.WEBHOOK_PACT, secret=SECRET, allow_private=True
            ),
            secrets=endpoint_secrets(),
        )
        row = await pool.fetchrow("SELECT disabled_at, secret_sealed FROM partner_endpoints WHERE endpoint_id = 'hook'")
        assert row["disabled_at"] is None
        assert endpoint_secrets().open("hook", SecretColumn.WEBHOOK, row["secret_sealed"]) == SECRET
        # An enabled endpoint that signs must have its sealed secret (the 0003 rule, now on the sealed column).
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute("UPDATE partner_endpoints SET secret_sealed = NULL WHERE endpoint_id = 'hook'")
    finally:
        await pool.close()
