"""PACT v3 rules that clients rely on, against the real gateway: every error is a `{code, message}`
JSON body, even those the HTTP layer produces; `limit` and `Link` as the spec says; one signature
rule for every format (x-epd-signature over the exact body), which `epd verify` checks.

Every test here only reads: they share one seeded database and gateway (read_only_gateway)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys

import asyncpg
import pytest
from conftest import check_error, check_list
from gateway_seed import MAGNET, OXIDE, add_product, add_version

from epd_records.signing import verify_payload
from tests.conftest import REPO


@pytest.fixture(scope="module")
def gateway(read_only_gateway):
    return read_only_gateway


@pytest.fixture(scope="module")
async def records(gateway) -> list[str]:
    """Three oxides client a's agreement recognises, and a magnet it does not."""
    db = await asyncpg.connect(gateway.dsn)
    try:
        ids = [await add_version(db, await add_product(db, f"oxide-{i}", OXIDE)) for i in range(3)]
        await add_version(db, await add_product(db, "magnet", MAGNET))
    finally:
        await db.close()
    return [str(i) for i in ids]


@pytest.fixture
async def http(gateway, records):
    token = await gateway.token("a")
    async with gateway.client(headers={"authorization": f"Bearer {token}"}) as client:
        yield client, records


def raw_request(gateway, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request as bytes over TLS (httpx refuses to build such requests): status, headers, body."""
    context = ssl.create_default_context(cafile=str(gateway.cert))
    with (
        socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(request)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    "request_bytes",
    [
        # h11 refuses a head larger than 16 KiB: a header, or the request line itself
        b"GET /3/footprints HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET /3/footprints?productId=" + b"a" * 20_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n",
        b"GET /3/footprints HTTP/1.1\r\nhost: x\r\ncontent-length: nope\r\n\r\n",
    ],
    ids=["header section", "request target", "framing"],
)
async def test_errors_of_the_http_layer_are_pact_error_bodies(gateway, pact, request_bytes, request):
    """Spec, BadRequestResponse: 'Response body MUST contain a JSON <{Error}> object'."""
    status, headers, body = await asyncio.to_thread(raw_request, gateway, request_bytes)
    assert status == 400 and headers["content-type"] == "application/json"
    error = json.loads(body)
    pact("Error", error)
    what = request.node.callspec.id
    expected = "invalid HTTP request" if what == "framing" else f"the {what} is larger than 16384 bytes"
    assert error["code"] == "BadRequest" and error["message"].startswith(expected), error


async def test_unknown_routes_and_methods_are_pact_error_bodies(gateway, pact):
    async with gateway.client() as client:
        check_error(pact, await client.get("/3/nothing-here"), 404, "NotFound")
        check_error(pact, await client.delete("/3/footprints"), 405)


async def test_limit_zero_answers_no_record_and_a_link_while_records_remain(http, pact, gateway):
    """Spec, parameter limit: 'The host system MAY return fewer footprints, but MUST return a Link header
    ... if there are additional ProductFootprints ready to be retrieved.'"""
    client, ids = http
    r = await client.get("/3/footprints", params={"limit": "0"})
    assert check_list(pact, r) == []
    link = r.headers["link"]
    assert link.startswith(f"<{gateway.url}/3/footprints") and link.endswith('>; rel="next"')
    follow = await client.get(link[1 : link.index(">")])
    assert {pf["id"] for pf in check_list(pact, follow)} == set(ids)
    empty = await client.get("/3/footprints", params={"limit": "0", "status": "Deprecated"})
    assert check_list(pact, empty) == [] and "link" not in empty.headers


async def test_a_page_never_exceeds_the_limit_and_links_keep_the_filters(http, pact):
    """Spec, Pagination: 'MUST NOT return more product footprints than requested'; the link repeats the
    request's filters."""
    client, ids = http
    seen, url = [], "/3/footprints?limit=1&status=active&x-unknown=ignored"
    while url:
        r = await client.get(url)
        page = check_list(pact, r)
        assert len(page) <= 1
        seen += [pf["id"] for pf in page]
        link = r.headers.get("link")
        if link:
            assert "status=active" in link and "limit=1" in link and "x-unknown" not in link
        url = link[1 : link.index(">")] if link else None
    assert sorted(seen) == sorted(ids)


async def test_every_format_is_signed_over_its_exact_body_and_epd_verify_checks_it(http, gateway, tmp_path):
    client, ids = http
    jwks = (await client.get("/.well-known/jwks.json")).json()
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text((await client.get("/.well-known/jwks.json")).text)
    responses = {
        "list.json": await client.get("/3/footprints"),
        "pact.json": await client.get(f"/3/footprints/{ids[0]}"),
        "ilcd.xml": await client.get(f"/3/footprints/{ids[0]}", params={"format": "ilcd"}),
        "openepd.json": await client.get(f"/3/footprints/{ids[0]}", headers={"accept": "application/vnd.openepd+json"}),
    }
    for name, r in responses.items():
        assert r.status_code == 200, (name, r.text)
        assert verify_payload(r.content, r.headers["x-epd-signature"], jwks) == r.headers["x-epd-signature-kid"]
        (tmp_path / name).write_bytes(r.content)

    def epd_verify(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-m", "epd_cli.main", "verify", str(tmp_path / name), "--jwks", str(jwks_file), *extra]
        return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=REPO)

    for name, r in responses.items():
        done = await asyncio.to_thread(epd_verify, name, "--body-signature", r.headers["x-epd-signature"])
        assert done.returncode == 0, done.stdout + done.stderr
        assert "body signature verifies" in done.stdout
        if name.endswith(".json") and name != "openepd.json":
            assert "record signature verifies" in done.stdout  # the embedded record signatures too
    # The embedded signature alone, without the header: PACT bodies only.
    done = await asyncio.to_thread(epd_verify, "list.json")
    assert done.returncode == 0 and done.stdout.count("record signature verifies") == len(ids), done.stdout
    xml_only = await asyncio.to_thread(epd_verify, "ilcd.xml")
    assert xml_only.returncode == 2 and "x-epd-signature" in xml_only.stdout
    # One changed byte fails, with exit code 1.
    tampered = responses["ilcd.xml"].content.replace(b"<", b" <", 1)
    (tmp_path / "tampered.xml").write_bytes(tampered)
    done = await asyncio.to_thread(
        epd_verify, "tampered.xml", "--body-signature", responses["ilcd.xml"].headers["x-epd-signature"]
    )
    assert done.returncode == 1 and "does NOT verify" in done.stdout
