"""The pinned client over real TLS: connecting to a pinned address still verifies the certificate
against the URL's host name (SNI), and a certificate for another name is refused. A real aiohttp
HTTPS server on 127.0.0.1 plays a partner whose name was pinned to that address."""

from __future__ import annotations

import datetime as dt
import ssl

import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from epd_publisher.delivery import ssrf
from epd_publisher.delivery.pinning import PinnedClient


def self_signed(tmp_path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@pytest.fixture
async def https_partner(tmp_path):
    server_ctx, client_ctx = self_signed(tmp_path, "partner.example")
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("host"))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1], client_ctx, seen
    finally:
        await runner.cleanup()


def pinned(host: str, port: int) -> ssrf.GuardedUrl:
    """What the guard returns for a public host; here the 'public' address is the local test server."""
    return ssrf.GuardedUrl(f"https://{host}:{port}/", "https", host, port, ("127.0.0.1",), allow_listed=False)


async def test_pinned_connection_verifies_the_host_name(https_partner):
    port, trust, seen = https_partner
    async with PinnedClient(verify=trust) as http:
        http.pins.pin(pinned("partner.example", port))
        response = await http.post(f"https://partner.example:{port}/events", content=b"{}")
    assert response.status_code == 204 and seen == [f"partner.example:{port}"]


async def test_a_certificate_for_another_name_is_refused(https_partner):
    port, trust, seen = https_partner
    async with PinnedClient(verify=trust) as http:
        http.pins.pin(pinned("other.example", port))  # same address, but not the certificate's name
        with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
            await http.post(f"https://other.example:{port}/events", content=b"{}")
    assert seen == []
