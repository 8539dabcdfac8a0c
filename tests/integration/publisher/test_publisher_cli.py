"""``epd publisher`` commands against a fresh database: SSRF refusal, bad agreement, list, replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys

AGREEMENT = {"partner_id": "jp-body", "product_classes": ["hs:8505"], "pcrs": [{"pcr_id": "PCR-magnets"}],
             "standards": ["EN 15804+A2"]}
SECRET = "whsec_" + "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="


def epd(dsn: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, EPD_PG_DSN=dsn, EPD_PUBLISHER_ENDPOINT_SECRET=SECRET)
    return subprocess.run([sys.executable, "-m", "epd_cli.main", "publisher", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_partner_commands(fresh_db, tmp_path):
    good = tmp_path / "agreement.json"
    good.write_text(json.dumps(AGREEMENT))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**AGREEMENT, "product_classes": ["not a class"]}))
    base = ["partners", "add", "jp-body", "--name", "Japan body", "--country", "JP"]

    refused = epd(fresh_db, *base, "--agreement", str(bad))
    assert refused.returncode == 2 and "agreement refused" in refused.stderr
    private = epd(fresh_db, *base, "--agreement", str(good), "--url", "https://10.0.0.1/hooks")
    assert private.returncode == 2 and "private" in private.stderr
    ok = epd(fresh_db, *base, "--agreement", str(good), "--url", "http://127.0.0.1:9/hooks", "--allow-private")
    assert ok.returncode == 0, ok.stderr
    rows = [json.loads(line) for line in epd(fresh_db, "partners", "list").stdout.splitlines()]
    urls = [r["url"] for r in rows]
    assert urls == ["http://127.0.0.1:9/hooks"] and rows[0]["allow_private"] is True
    replay = epd(fresh_db, "replay-dead-letters", "--partner", "jp-body")
    assert replay.returncode == 0 and "0 dead letters" in replay.stdout
