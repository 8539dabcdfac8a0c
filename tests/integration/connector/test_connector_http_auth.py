"""HTTP push authentication over real HTTP(S): a push without a credential, with a wrong, revoked or
another plant's one gets a 401/403 with a `{code, message}` body and is counted in
epd_connector_input_refused_total; the plant's own token is accepted; hostile headers get a 4xx with
a body, never a 500. With mTLS, only a client certificate of the plant's CA completes the handshake."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from inputs_support import push_credential
from prometheus_client import REGISTRY
from telemetry_support import plant_yaml, running_connector
from test_connector_sources import free_port

from epd_connector.push_credentials import editing, parse_token, revoke
from epd_connector.signing import generate_private_key, private_key_to_pem
from epd_devstack.local_ca import LocalCA


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("epd_connector_input_refused_total", {"source": "http", "reason": reason}) or 0.0


def body() -> dict:
    return {"readings": [{"field": "h2so4", "value": "1.5", "observed_at": datetime.now(UTC).isoformat()}]}


async def wait_up(url: str, verify: ssl.SSLContext | bool = True, cert: tuple[str, str] | None = None) -> None:
    ctx = verify
    if cert is not None and isinstance(ctx, ssl.SSLContext):
        ctx.load_cert_chain(*cert)
    async with httpx.AsyncClient(verify=ctx) as client, asyncio.timeout(60):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def connector(tmp_path, unique, kafka, topic_prefix, **kw) -> AsyncIterator[str]:
    key = tmp_path / "k.pem"
    key.write_bytes(private_key_to_pem(generate_private_key()))
    port = free_port()
    async with running_connector(
        **kafka.settings_fields(),
        topic_prefix=topic_prefix,
        plant_config=tmp_path / f"h{unique[:6]}.yaml",
        key_file=key,
        sources="http",
        http_port=port,
        **kw,
    ):
        yield f"{'https' if 'http_tls_cert_file' in kw else 'http'}://127.0.0.1:{port}"


@pytest.fixture
def plant(tmp_path, unique):
    plant_yaml(tmp_path, f"h{unique[:6]}", unique)
    plant_yaml(tmp_path, f"o{unique[:6]}", unique)  # another plant, for its credential
    return f"h{unique[:6]}"


async def test_pushes_are_answered_by_their_credential(tmp_path, unique, plant, kafka, topic_prefix):
    creds, token = push_credential(tmp_path, plant)
    other_token = push_credential(tmp_path, f"o{unique[:6]}", name="other-plant")[1]
    revoked_token = push_credential(tmp_path, plant, name="old-scada")[1]
    with editing(creds) as stored:
        stored[:] = revoke(stored, parse_token(revoked_token).id, "rotated")  # type: ignore[union-attr]
    wrong = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    cases = [  # (Authorization, status, code)
        (None, 401, "credential_missing"),
        ("Basic dXNlcjpwYXNz", 401, "credential_wrong_scheme"),
        ("Bearer nonsense", 401, "credential_malformed"),
        (f"Bearer {wrong}", 401, "credential_invalid"),
        (f"Bearer {revoked_token}", 401, "credential_revoked"),
        (f"Bearer {other_token}", 403, "wrong_plant"),
    ]
    async with connector(tmp_path, unique, kafka, topic_prefix, http_credentials_file=creds) as url:
        await wait_up(url)
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for header, status, code in cases:
                before = refused(code)
                headers = {"Authorization": header} if header else {}
                resp = await client.post("/v1/readings", json=body(), headers=headers)
                assert resp.status_code == status, (header, resp.status_code, resp.text[:200])
                doc = resp.json()
                assert doc["code"] == code and doc["message"], doc
                assert refused(code) == before + 1, code
                if status == 401:
                    assert resp.headers["www-authenticate"].startswith("Bearer")
            ok = await client.post("/v1/readings", json=body(), headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 202 and ok.json() == {"accepted": 1}, ok.text
            # revoked while the connector runs: refused from the next request, no restart
            with editing(creds) as stored:
                stored[:] = revoke(stored, parse_token(token).id, "leaked")  # type: ignore[union-attr]
            gone = await client.post("/v1/readings", json=body(), headers={"Authorization": f"Bearer {token}"})
            assert gone.status_code == 401 and gone.json()["code"] == "credential_revoked"


async def raw_push(url: str, authorization: bytes) -> tuple[int, bytes]:
    """One POST written byte for byte (clients refuse to send illegal header values); (status, body)."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body()).encode()
    head = (
        b"POST /v1/readings HTTP/1.1\r\nHost: %b\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\nAuthorization: %b\r\n\r\n"
    ) % (host.encode(), len(payload), authorization)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + payload)
        await writer.drain()
        async with asyncio.timeout(60):
            answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_hostile_credentials_get_4xx_with_a_body(tmp_path, unique, plant, kafka, topic_prefix):
    creds, token = push_credential(tmp_path, plant)
    hostile = [
        b"Bearer " + b"A" * 8_000,  # oversized, within the 16 KiB head limit
        b"Bearer " + b"A" * 15_000,  # near the limit
        b"Bearer " + b"A" * 40_000,  # beyond it
        b"Bearer epdpush.aaaaaaaaaaaaaaaa." + "\u00e9".encode() * 43,  # not ASCII
        b"Bearer " + b"\xff\xfe" * 30,  # not UTF-8
        b"Bearer\x00" + token.encode(),  # a NUL inside
        b"Bearer " + token.encode() + b"." + token.encode(),
        b"Bearer " + token.encode()[:-1] + b"\x01",
    ]
    async with connector(tmp_path, unique, kafka, topic_prefix, http_credentials_file=creds) as url:
        await wait_up(url)
        for header in hostile:
            status, answer = await raw_push(url, header)
            assert 400 <= status < 500, (header[:40], len(header), status, answer[:200])
            doc = json.loads(answer)
            assert doc["code"] and doc["message"], doc
        status, answer = await raw_push(url, f"Bearer {token}".encode())
        assert status == 202, answer


async def test_mtls_admits_only_certificates_of_the_plants_ca(tmp_path, unique, plant, kafka, topic_prefix):
    ca = LocalCA(tmp_path / "ca").ensure()
    server = ca.issue_server(tmp_path / "tls", "connector", ["127.0.0.1"])
    good = ca.issue_client(tmp_path / "tls", "scada-1")
    stranger = LocalCA(tmp_path / "other-ca").ensure().issue_client(tmp_path / "other", "scada-1")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    tls = dict(http_tls_cert_file=server.cert, http_tls_key_file=server.key, http_tls_client_ca_file=ca.cert_file)

    def ctx(cert=None) -> ssl.SSLContext:
        c = ssl.create_default_context(cafile=str(ca.cert_file))
        if cert is not None:
            c.load_cert_chain(str(cert.cert), str(cert.key))
        return c

    async with connector(tmp_path, unique, kafka, topic_prefix, http_auth="mtls", **tls) as url:
        await wait_up(url, ctx(good))
        for cert in (None, stranger):  # no client certificate, or one of another CA: the handshake fails
            async with httpx.AsyncClient(base_url=url, verify=ctx(cert), timeout=60) as client:
                with pytest.raises(httpx.TransportError):
                    await client.post("/v1/readings", json=body())
        with pytest.raises(ssl.SSLError):  # a garbage certificate cannot even be presented
            ssl.create_default_context().load_cert_chain(str(garbage), str(good.key))
        async with httpx.AsyncClient(base_url=url, verify=ctx(good), timeout=60) as client:
            resp = await client.post("/v1/readings", json=body())
            assert resp.status_code == 202, resp.text
        plain = url.replace("https://", "http://")  # plain HTTP to the TLS listener: refused, not served
        async with httpx.AsyncClient(base_url=plain, timeout=60) as client:
            with contextlib.suppress(httpx.TransportError):
                resp = await client.post("/v1/readings", json=body())
                assert resp.status_code == 400
