"""SSRF guard for partner endpoint URLs.

A partner registers a URL; the publisher later POSTs to it from inside our network. This module
refuses every URL that could reach an internal service (Standard Webhooks spec, "Server side request
forgery"): plain http, credentials in the URL, non-canonical numeric hosts, and any host that is or
resolves to a loopback, private, link-local, CGNAT, unique-local, multicast, reserved or otherwise
non-global address. IPv6 forms that carry an IPv4 address (IPv4-mapped, SIIT IPv4-translated
``::ffff:0:a.b.c.d``, NAT64 well-known ``64:ff9b::/96``, 6to4, Teredo) are judged by the address they
embed; the local-use NAT64 prefix ``64:ff9b:1::/48`` (RFC 8215), the rest of ``64:ff9b::/32`` and Teredo
are refused whatever they embed. A host on the explicit allow-list (exact, case-insensitive match) skips the
address and scheme checks: that is how operators register a test receiver on 127.0.0.1.

Redirects are never followed (``FOLLOW_REDIRECTS``); a 3xx counts as a failed attempt. Resolution is
injected (``Resolver``) so unit tests do no I/O. To close the DNS-rebinding window the sender re-runs
``check_url`` before each attempt and connects to ``GuardedUrl.addresses`` (``pinning.PinnedClient``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from epd_publisher.errors import PublisherError

#: Policy flag for the HTTP client (httpx ``follow_redirects``): a redirect could point anywhere.
FOLLOW_REDIRECTS = False
MAX_URL_LENGTH = 2048

Resolver = Callable[[str], Iterable[str]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrlError(PublisherError):
    """The URL must not be used as a partner endpoint; ``reason`` says why."""

    def __init__(self, url: object, reason: str) -> None:
        super().__init__(f"refused endpoint URL {str(url)[:200]!r}: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GuardedUrl:
    """A URL that passed the guard, with the addresses it was checked against."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    allow_listed: bool


# Named non-global ranges, checked in order so the refusal says which rule matched.
_FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified / 'this network' (RFC 1122)"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved / broadcast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible IPv6 (deprecated)"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo tunnel"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique-local IPv6"),
    ("fe80::/10", "link-local IPv6"),
    ("fec0::/10", "site-local IPv6 (deprecated)"),
    ("ff00::/8", "multicast"),
)
_FORBIDDEN_NETS = tuple((ipaddress.ip_network(n), why) for n, why in _FORBIDDEN)
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")

# IPv6 forms that carry an IPv4 address. The last 32 bits are the IPv4 address for each of these
# (RFC 4291 2.5.5.2, RFC 6052 2.2 for a /96 prefix, RFC 2765 2.1); a translator or relay on the way
# connects to it, so these are judged by the address they embed.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: translated to public IPv4 only
_SIIT_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 "IPv4-translated" (::ffff:0:a.b.c.d)
# Whole prefixes refused whatever they embed.
_EMBEDDING_PREFIXES: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    # RFC 8215 local-use NAT64: the operator's own translator, which reaches its internal IPv4 networks;
    # where the IPv4 address sits depends on the operator's prefix length (RFC 6052 2.2).
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "local-use NAT64 prefix (RFC 8215)"),
    # The rest of 64:ff9b::/32 is not assigned for translation; refuse rather than guess a layout.
    (ipaddress.IPv6Network("64:ff9b::/32"), "NAT64 space outside the well-known /96 prefix"),
    (ipaddress.IPv6Network("2001::/32"), "Teredo tunnel"),
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries and the name of the form, when it has one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped IPv6"
    if ip in _SIIT_TRANSLATED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-translated IPv6 (SIIT)"
    if ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64 address"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4 address"
    if ip.teredo is not None:
        return ip.teredo[1], "Teredo address"  # (server, client): the client is where traffic goes
    return None


def address_problem(ip: IP) -> str | None:
    """Why ``ip`` must not be contacted, or None when it is globally routable."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "IPv6 zone identifier"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner, form = embedded
            problem = address_problem(inner)
            if problem:
                return f"{form} embedding {inner}: {problem}"
            if ip.ipv4_mapped is not None or ip in _SIIT_TRANSLATED:
                return f"{form} (use the IPv4 form)"
        for prefix, why in _EMBEDDING_PREFIXES:
            if ip in prefix and ip not in _NAT64_WELL_KNOWN:
                return why
    for net, why in _FORBIDDEN_NETS:
        if ip.version == net.version and ip in net:
            return why
    if not ip.is_global:
        return "not globally routable"
    return None


def system_resolver(host: str) -> list[str]:
    """Resolve with the OS resolver (I/O: only the composition root should pass this in)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _normalise_host(raw: str, url: str) -> str:
    host = raw.strip().lower().rstrip(".")
    if not host:
        raise UnsafeUrlError(url, "no host")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UnsafeUrlError(url, f"host is not a valid domain name ({exc})") from None
    return ascii_host


def _literal_ip(host: str, url: str) -> IP | None:
    """The IP a host literally names, refusing numeric tricks (``2130706433``, ``0x7f.1``, ``0177.0.0.1``)."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UnsafeUrlError(url, "malformed IPv6 literal") from None
    labels = host.split(".")
    if not _NUMERIC_LABEL.match(labels[-1]):
        return None
    try:
        # ip_address accepts only the canonical dotted quad (no leading zeros, exactly 4 parts).
        return ipaddress.IPv4Address(host)
    except ValueError:
        raise UnsafeUrlError(url, "non-canonical numeric host (decimal, octal, hex or short IPv4 form)") from None


def check_url(
    url: object,
    *,
    resolver: Resolver,
    allow_hosts: Collection[str] = (),
) -> GuardedUrl:
    """Validate a partner endpoint URL; raise ``UnsafeUrlError`` with the reason when it is unsafe."""
    if not isinstance(url, str):
        raise UnsafeUrlError(url, "URL must be a string")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrlError(url, f"URL longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c == "\\" for c in url):
        raise UnsafeUrlError(url, "whitespace, control character or backslash in URL")
    try:
        parts = urlsplit(url)
        port_given = parts.port
    except ValueError as exc:
        raise UnsafeUrlError(url, f"unparseable URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeUrlError(url, f"scheme {scheme or '(none)'!r} not allowed; use https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrlError(url, "credentials in the URL are not allowed")
    if parts.hostname is None:
        raise UnsafeUrlError(url, "no host")
    host = _normalise_host(parts.hostname, url)
    port = port_given if port_given is not None else (443 if scheme == "https" else 80)
    if port == 0:
        raise UnsafeUrlError(url, "port 0")
    allowed = {_normalise_host(h, url) for h in allow_hosts}
    if host in allowed:
        return GuardedUrl(url, scheme, host, port, (), allow_listed=True)
    if scheme != "https":
        raise UnsafeUrlError(url, "https required (host is not allow-listed)")

    literal = _literal_ip(host, url)
    if literal is not None:
        problem = address_problem(literal)
        if problem:
            raise UnsafeUrlError(url, f"address {literal} is {problem}")
        return GuardedUrl(url, scheme, host, port, (str(literal),), allow_listed=False)

    if not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise UnsafeUrlError(url, "host is not a valid domain name")
    if host == "localhost" or host.endswith(".localhost"):
        raise UnsafeUrlError(url, "localhost names are loopback")
    try:
        resolved = [str(a) for a in resolver(host)]
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrlError(url, f"host does not resolve ({exc})") from None
    if not resolved:
        raise UnsafeUrlError(url, "host resolves to no address")
    addresses: list[str] = []
    for text in resolved:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise UnsafeUrlError(url, f"resolver returned a non-address {text[:60]!r}") from None
        problem = address_problem(ip)
        if problem:
            # One bad answer is enough: the client could connect to any of them (DNS rebinding).
            raise UnsafeUrlError(url, f"{host} resolves to {ip}, which is {problem}")
        addresses.append(str(ip))
    return GuardedUrl(url, scheme, host, port, tuple(addresses), allow_listed=False)
