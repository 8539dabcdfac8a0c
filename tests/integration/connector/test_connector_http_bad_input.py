"""Bad HTTP pushes (with a valid push token) get a 4xx with a body over real HTTP, and the endpoint keeps
serving good ones."""

from __future__ import annotations

import httpx
import pytest
from inputs_support import push_credential
from telemetry_support import plant_yaml, running_connector
from test_connector_sources import _wait_http, free_port

from epd_connector.signing import generate_private_key, private_key_to_pem

CASES = [  # (content type, body, status, error)
    ("application/json", b"{not json", 400, "malformed"),
    ("application/json", b"[1, 2]", 400, "malformed"),
    (
        "application/json",
        b'{"readings": [{"field": "nope", "value": "1", "observed_at": "2025-01-01T00:00:00Z"}]}',
        422,
        "invalid_reading",
    ),
    (
        "application/json",
        b'{"readings": [{"field": "h2so4", "value": "abc", "observed_at": "2025-01-01T00:00:00Z"}]}',
        422,
        "invalid_reading",
    ),
    (
        "application/json",
        b'{"readings": [{"field": "h2so4", "value": "1", "observed_at": "yesterday"}]}',
        422,
        "invalid_reading",
    ),
    (
        "application/json",
        b'{"readings": [{"field": "h2so4", "value": NaN, "observed_at": "2025-01-01T00:00:00Z"}]}',
        400,
        "malformed",
    ),
    ("application/json", b'{"readings": "x"}', 422, "invalid_reading"),
    ("application/x-protobuf", b"\xff\xff\xff garbage", 400, "malformed"),
    ("text/plain", b"hello", 415, "unsupported_media_type"),
    ("application/json", b"x" * 2_000_000, 413, "too_large"),
]


@pytest.fixture
async def connector_url(tmp_path, unique, kafka, topic_prefix):
    path = plant_yaml(tmp_path, f"h{unique[:6]}", unique)
    creds, token = push_credential(tmp_path, f"h{unique[:6]}")
    key = tmp_path / "k.pem"
    key.write_bytes(private_key_to_pem(generate_private_key()))
    port = free_port()
    async with running_connector(
        **kafka.settings_fields(),
        topic_prefix=topic_prefix,
        plant_config=path,
        key_file=key,
        sources="http",
        http_port=port,
        http_credentials_file=creds,
    ):
        await _wait_http(port)
        yield f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}


async def test_bad_pushes_get_4xx_with_a_body(connector_url):
    url, auth = connector_url
    async with httpx.AsyncClient(timeout=30, headers=auth) as client:
        for ctype, body, status, error in CASES:
            resp = await client.post(f"{url}/v1/readings", content=body, headers={"content-type": ctype})
            assert resp.status_code == status, (body[:60], resp.status_code, resp.text[:200])
            doc = resp.json()
            assert doc["code"] == error and doc["message"], doc
        ok = await client.post(
            f"{url}/v1/readings",
            json={"observed_at": "2025-01-01T00:00:00Z", "values": {"h2so4": "1.5", "electricity": 2}},
        )
        assert ok.status_code == 202 and ok.json() == {"accepted": 2}
