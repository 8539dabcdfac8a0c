"""DNS rebinding: the sender connects to the addresses its SSRF check allowed, never to a second lookup.

No I/O: an injected resolver plays the rebinding DNS server and a recording httpcore network backend
plays the network (it answers with canned HTTP bytes over httpcore's mock stream)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpcore
import httpx
import pytest
from publisher_fakes import MemoryDeliveryStore

from epd_publisher.deliveries import FOOTPRINT_CHANGE, DueDelivery
from epd_publisher.delivery import ssrf
from epd_publisher.delivery.pinning import PIN_POLICY, AddressPins, PinnedClient, Policy
from epd_publisher.delivery.retry import TransportError
from epd_publisher.endpoint_secrets import EndpointSecrets
from epd_publisher.sender import Sender

PUBLIC, PUBLIC_2, PRIVATE = "93.184.216.34", "93.184.216.35", "127.0.0.1"
URL = "https://hooks.partner.example/events"


class RebindingResolver:
    """Answers the public address to the first lookup and a private one to every later lookup."""

    def __init__(self, first: tuple[str, ...] = (PUBLIC,)) -> None:
        self.first = first
        self.lookups: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        return list(self.first) if len(self.lookups) == 1 else [PRIVATE]


class TlsRecordingStream(httpcore.AsyncMockStream):
    def __init__(self, buffer: list[bytes], log: list) -> None:
        super().__init__(buffer)
        self._log = log

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # noqa: ASYNC109 - httpcore's API
        self._log.append(("tls", server_hostname))
        return self


class RecordingNetwork(httpcore.AsyncNetworkBackend):
    """Records every TCP connect; addresses in ``down`` refuse; others answer ``response``."""

    def __init__(self, response: bytes = b"HTTP/1.1 204 No Content\r\n\r\n", down: tuple[str, ...] = ()) -> None:
        self.response = response
        self.down = down
        self.log: list[tuple] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ASYNC109
        self.log.append(("connect", host, port))
        if host in self.down:
            raise httpcore.ConnectError(f"{host} refused")
        return TlsRecordingStream([self.response], self.log)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # noqa: ASYNC109
        raise AssertionError("no unix sockets")

    async def sleep(self, seconds):
        return None

    @property
    def connects(self) -> list[str]:
        return [entry[1] for entry in self.log if entry[0] == "connect"]


@pytest.fixture(scope="module")
def endpoint_secrets() -> EndpointSecrets:
    return EndpointSecrets("unit-test-publisher-secret-key")


class NoRecords:
    """The sender's record rendering, unused by these tests (they post prepared bodies)."""

    async def renderers(self, fv, viewer):
        return {}

    async def body_signature(self, body):
        return "sig", "kid"


def sender(http, resolver, endpoint_secrets) -> Sender:
    return Sender(
        store=MemoryDeliveryStore(),
        http=http,
        rendering=NoRecords(),
        resolver=resolver,  # type: ignore[arg-type]
        rng=random.Random(1),
        secrets=endpoint_secrets,
    )


def row(url: str = URL, allow_private: bool = False) -> DueDelivery:
    return DueDelivery(
        delivery_id=1,
        event_id="7d9f3f7e-3a51-4c8e-9a43-1f1f5d0c0b01",
        partner_id="jp-body",
        kind=FOOTPRINT_CHANGE,
        payload=b"",
        attempts=0,
        first_attempt_at=None,
        accepts_provisional=False,
        endpoint_id="jp-hook",
        url=url,
        format="webhook-pact",
        signing="none",
        secret_sealed=None,
        token_url=None,
        client_id=None,
        client_secret_sealed=None,
        allow_private=allow_private,
        lease_until=datetime(2099, 1, 1, tzinfo=UTC),
    )


async def test_request_goes_to_the_checked_address_not_a_rebound_one(endpoint_secrets):
    resolver, network = RebindingResolver(), RecordingNetwork()
    async with PinnedClient(backend=network) as http:
        result = await sender(http, resolver, endpoint_secrets)._post(row(), b"{}", {}, None)
    assert result.status == 204
    assert resolver.lookups == ["hooks.partner.example"]  # the guard's lookup is the only one
    assert network.connects == [PUBLIC] and PRIVATE not in network.connects
    # TLS still verifies the partner's name: SNI / server_hostname is the host, not the address.
    assert ("tls", "hooks.partner.example") in network.log


async def test_the_next_attempt_after_rebinding_is_refused_before_connecting(endpoint_secrets):
    resolver, network = RebindingResolver(), RecordingNetwork()
    async with PinnedClient(backend=network) as http:
        s = sender(http, resolver, endpoint_secrets)
        assert (await s._post(row(), b"{}", {}, None)).status == 204
        second = await s._post(row(), b"{}", {}, None)
    assert second.error is TransportError.REFUSED_BY_GUARD
    assert network.connects == [PUBLIC]


async def test_a_plain_httpx_client_would_resolve_again_so_the_sender_refuses_it(endpoint_secrets):
    async with httpx.AsyncClient(trust_env=False) as plain:
        with pytest.raises(TypeError, match="PinnedClient"):
            sender(plain, RebindingResolver(), endpoint_secrets)


async def test_unchecked_hosts_are_not_connected():
    network = RecordingNetwork()
    async with PinnedClient(backend=network) as http:
        with pytest.raises(httpx.ConnectError, match="not checked by the SSRF guard"):
            await http.post("https://never-checked.example/x", content=b"{}")
    assert network.connects == []


async def test_every_checked_address_is_tried_in_order_and_only_those():
    network = RecordingNetwork(down=(PUBLIC,))
    async with PinnedClient(backend=network) as http:
        http.pins.pin(ssrf.check_url(URL, resolver=RebindingResolver((PUBLIC, PUBLIC_2))))
        response = await http.post(URL, content=b"{}")
    assert response.status_code == 204 and network.connects == [PUBLIC, PUBLIC_2]


async def test_connect_failures_become_httpx_connect_errors(endpoint_secrets):
    network = RecordingNetwork(down=(PUBLIC,))
    async with PinnedClient(backend=network) as http:
        result = await sender(http, RebindingResolver(), endpoint_secrets)._post(row(), b"{}", {}, None)
    assert result.error is TransportError.CONNECT


async def test_redirects_are_not_followed(endpoint_secrets):
    network = RecordingNetwork(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1/admin\r\nContent-Length: 0\r\n\r\n")
    async with PinnedClient(backend=network) as http:
        assert http.follow_redirects is False
        result = await sender(http, RebindingResolver(), endpoint_secrets)._post(row(), b"{}", {}, None)
    assert result.status == 302 and network.connects == [PUBLIC]


async def test_allow_listed_hosts_connect_by_name():
    network = RecordingNetwork()
    async with PinnedClient(backend=network) as http:
        checked = ssrf.check_url(
            "http://receiver.internal:8099/h", resolver=RebindingResolver(), allow_hosts=("receiver.internal",)
        )
        with pytest.raises(ValueError, match="allow-listed"):
            http.pins.pin(checked)  # never under the public-only policy
        http.pins.pin(checked, Policy.OWN_HOST_ALLOWED)
        with pytest.raises(httpx.ConnectError, match="not checked"):
            await http.post("http://receiver.internal:8099/h", content=b"{}")  # a public-only request
        own = {PIN_POLICY: Policy.OWN_HOST_ALLOWED}
        assert (await http.post("http://receiver.internal:8099/h", content=b"{}", extensions=own)).status_code == 204
    assert network.log == [("connect", "receiver.internal", 8099)]


class KeepAliveNetwork(RecordingNetwork):
    """Each connection answers any number of requests (so the pool reuses it)."""

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ASYNC109
        self.log.append(("connect", host, port))
        return TlsRecordingStream([self.response] * 10, self.log)


async def test_an_allow_private_endpoint_never_decides_how_a_public_one_on_the_same_host_connects(endpoint_secrets):
    """Pins and pooled connections are per (host, endpoint policy): the allow-private endpoint connects to
    the name (whatever DNS says then); the public-only endpoint on the same host still goes only to the
    address its own check allowed, on a connection of its own."""
    resolver, network = RebindingResolver(), KeepAliveNetwork()
    async with PinnedClient(backend=network) as http:
        s = sender(http, resolver, endpoint_secrets)
        assert (await s._post(row(allow_private=True), b"{}", {}, None)).status == 204
        assert (await s._post(row(allow_private=False), b"{}", {}, None)).status == 204
        assert http.pins.addresses("hooks.partner.example") == (PUBLIC,)
        assert http.pins.addresses("hooks.partner.example", Policy.OWN_HOST_ALLOWED) == ()
    assert network.connects == ["hooks.partner.example", PUBLIC]


def test_pins_follow_the_latest_check_and_normalise_names():
    pins = AddressPins()
    assert pins.addresses("hooks.partner.example") is None
    pins.pin(ssrf.check_url(URL, resolver=lambda host: [PUBLIC]))
    assert pins.addresses("HOOKS.partner.example.") == (PUBLIC,)
    pins.pin(ssrf.check_url(URL, resolver=lambda host: [PUBLIC_2]))
    assert pins.addresses("hooks.partner.example") == (PUBLIC_2,)
