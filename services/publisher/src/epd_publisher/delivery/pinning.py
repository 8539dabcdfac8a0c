"""Connect only to the addresses the SSRF guard checked (closes the DNS-rebinding window).

The sender runs ``ssrf.check_url`` before every attempt, but a plain httpx client then resolves the
host again: a name that answered a public address to the guard can answer 127.0.0.1 to the client.
``PinnedClient`` is an httpx client whose transport connects through ``PinnedBackend``: the TCP
connection goes to the checked addresses of the host (``AddressPins``, filled by the sender from each
``GuardedUrl``), never to a fresh lookup; a host nobody checked is refused. TLS still runs with the
URL's host name (httpcore passes it as ``server_hostname``, so SNI and certificate verification use the
name, not the address). Allow-listed hosts (operator test receivers) connect as named. Redirects are
never followed.

Pins, and the connection pools, are keyed by host AND endpoint policy (``Policy``): an endpoint
registered with ``--allow-private`` connects to its host by name, but that must never decide how an
ordinary endpoint on the same host name connects. A request names its policy in the request extension
``PIN_POLICY`` (default ``Policy.PUBLIC``); each policy has its own pins and its own httpcore pool, so
neither a pin nor a pooled connection made under one policy serves a request of the other.

httpx has no resolver hook; httpcore's public ``AsyncConnectionPool(network_backend=...)`` does, so
this module builds its own transport on it (about what ``httpx.AsyncHTTPTransport`` does, minus
proxies, which ``trust_env=False`` turns off anyway).
"""

from __future__ import annotations

import contextlib
import ssl
import typing
from collections.abc import AsyncIterator, Iterable
from enum import StrEnum

import httpcore
import httpx

from epd_publisher.delivery import ssrf

_PASS_THROUGH: tuple[str, ...] = ()  # pin of an allow-listed host: connect to the name as given
PIN_POLICY = "epd_pin_policy"  # httpx request extension naming the request's Policy


class Policy(StrEnum):
    """How an endpoint's host was checked: public addresses only, or its own host allow-listed."""

    PUBLIC = "public"
    OWN_HOST_ALLOWED = "own-host-allowed"

    @classmethod
    def of(cls, allow_private: bool) -> Policy:
        return cls.OWN_HOST_ALLOWED if allow_private else cls.PUBLIC


def _key(host: str) -> str:
    return host.strip().lower().rstrip(".")


class AddressPins:
    """(host name, policy) -> the addresses its last guard check allowed (``()`` for allow-listed hosts)."""

    def __init__(self) -> None:
        self._pins: dict[tuple[str, Policy], tuple[str, ...]] = {}

    def pin(self, checked: ssrf.GuardedUrl, policy: Policy = Policy.PUBLIC) -> None:
        if checked.allow_listed and policy is Policy.PUBLIC:
            raise ValueError(f"{checked.host} was allow-listed: it cannot be pinned for public-only endpoints")
        self._pins[(_key(checked.host), policy)] = _PASS_THROUGH if checked.allow_listed else tuple(checked.addresses)

    def addresses(self, host: str, policy: Policy = Policy.PUBLIC) -> tuple[str, ...] | None:
        """The checked addresses, ``()`` to connect to the name itself, None when never checked."""
        return self._pins.get((_key(host), policy))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Network backend that swaps the host name for its checked addresses at connect time."""

    def __init__(
        self, pins: AddressPins, inner: httpcore.AsyncNetworkBackend | None = None, policy: Policy = Policy.PUBLIC
    ) -> None:
        self._pins = pins
        self._inner = inner or httpcore.AnyIOBackend()
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's AsyncNetworkBackend signature
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.addresses(host, self._policy)
        if addresses is None:
            raise httpcore.ConnectError(f"{host} was not checked by the SSRF guard ({self._policy}); not connecting")
        if addresses == _PASS_THROUGH:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        failure: Exception | None = None
        for address in addresses:  # every one of them passed the guard
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's AsyncNetworkBackend signature
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not partner endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# httpcore exception -> httpx exception, most specific first (what httpx's own transport maps).
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> typing.Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc) or type(exc).__name__, request=request) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors(self._request):
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            with _httpx_errors(self._request):
                await self._stream.aclose()


class PinnedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        pins: AddressPins,
        *,
        verify: ssl.SSLContext | bool = True,
        backend: httpcore.AsyncNetworkBackend | None = None,
        max_connections: int = 100,
    ) -> None:
        ssl_context = httpx.create_ssl_context(verify=verify)
        # One pool per policy: a connection opened for one policy is never reused by the other.
        self._pools = {
            policy: httpcore.AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=max_connections,
                max_keepalive_connections=20,
                keepalive_expiry=5.0,
                network_backend=PinnedBackend(pins, backend, policy),
            )
            for policy in Policy
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            pool = self._pools[Policy(request.extensions.get(PIN_POLICY, Policy.PUBLIC))]
        except ValueError:
            raise httpx.UnsupportedProtocol(f"unknown pin policy {request.extensions.get(PIN_POLICY)!r}") from None
        extensions = {k: v for k, v in request.extensions.items() if k != PIN_POLICY}
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=extensions,
        )
        with _httpx_errors(request):
            response = await pool.handle_async_request(core)
        # httpcore types a response stream as sync or async; its async pool's is always async (httpx's own
        # AsyncHTTPTransport asserts the same).
        stream = typing.cast(typing.AsyncIterable[bytes], response.stream)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(stream, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()


class PinnedClient(httpx.AsyncClient):
    """The sender's HTTP client: connects only to addresses pinned from SSRF guard checks."""

    def __init__(
        self,
        *,
        pins: AddressPins | None = None,
        timeout: float = 10.0,
        verify: ssl.SSLContext | bool = True,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.pins = pins or AddressPins()
        super().__init__(
            transport=PinnedTransport(self.pins, verify=verify, backend=backend),
            follow_redirects=ssrf.FOLLOW_REDIRECTS,
            timeout=timeout,
            trust_env=False,
        )
