"""SSRF guard: hostile URLs are refused with a reason; resolution is faked (no I/O)."""

from __future__ import annotations

import pytest

from epd_publisher.delivery.ssrf import FOLLOW_REDIRECTS, UnsafeUrlError, address_problem, check_url

FAKE_DNS = {
    "partner.example.org": ["93.184.216.34"],
    "v6.example.org": ["2606:4700::6810:85e5"],
    "rebind.example.org": ["93.184.216.34", "127.0.0.1"],
    "internal.example.org": ["10.1.2.3"],
    "metadata.example.org": ["169.254.169.254"],
    "empty.example.org": [],
    "garbage.example.org": ["not-an-ip"],
}


def fake_resolver(host: str) -> list[str]:
    if host not in FAKE_DNS:
        raise OSError(f"NXDOMAIN {host}")
    return FAKE_DNS[host]


def guard(url: object, allow: tuple[str, ...] = ()):
    return check_url(url, resolver=fake_resolver, allow_hosts=allow)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://partner.example.org/hook", "https required"),
        ("ftp://partner.example.org/hook", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "scheme"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://127.8.9.10/", "loopback"),
        ("https://10.0.0.1/hook", "RFC 1918"),
        ("https://172.16.5.4/", "RFC 1918"),
        ("https://192.168.1.1/", "RFC 1918"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://100.64.0.1/", "carrier-grade NAT"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://224.0.0.1/", "multicast"),
        ("https://255.255.255.255/", "reserved"),
        ("https://[::1]/", "loopback"),
        ("https://[::]/", "unspecified"),
        ("https://[fe80::1]/", "link-local"),
        ("https://[fe80::1%25eth0]/", "zone identifier"),
        ("https://[fd00::1]/", "unique-local"),
        ("https://[fc12:3456::1]/", "unique-local"),
        ("https://[ff02::1]/", "multicast"),
        ("https://[::ffff:127.0.0.1]/", "IPv4-mapped"),
        ("https://[::ffff:7f00:1]/", "IPv4-mapped"),
        ("https://[::ffff:10.0.0.1]/", "IPv4-mapped"),
        ("https://[::ffff:8.8.8.8]/", "IPv4-mapped"),
        ("https://[2002:7f00:1::]/", "6to4"),
        ("https://[64:ff9b::a00:1]/", "NAT64"),
        ("https://[::127.0.0.1]/", "IPv4-compatible"),
        ("http://2130706433/", "https required"),
        ("https://2130706433/", "non-canonical numeric"),
        ("https://0x7f.1/", "non-canonical numeric"),
        ("https://0x7f000001/", "non-canonical numeric"),
        ("https://0177.0.0.1/", "non-canonical numeric"),
        ("https://127.1/", "non-canonical numeric"),
        ("https://017700000001/", "non-canonical numeric"),
        ("https://127.0.0.1./", "loopback"),
        ("https://１２７.0.0.1/", "loopback"),
        ("https://localhost/", "localhost"),
        ("https://api.localhost/", "localhost"),
        ("https://user:pw@partner.example.org/", "credentials"),
        ("https://partner.example.org@127.0.0.1/", "credentials"),
        ("https://rebind.example.org/", "127.0.0.1"),
        ("https://internal.example.org/", "RFC 1918"),
        ("https://metadata.example.org/", "link-local"),
        ("https://empty.example.org/", "no address"),
        ("https://garbage.example.org/", "non-address"),
        ("https://nxdomain.example.org/", "does not resolve"),
        ("https://partner.example.org:99999/", "unparseable"),
        ("https://partner.example.org:0/", "port 0"),
        ("https://[::1/", "unparseable"),
        ("https:///nohost", "no host"),
        ("https://exa mple.org/", "whitespace"),
        ("https://partner.example.org/\x00", "control character"),
        ("https://partner.example.org\\@127.0.0.1/", "backslash"),
        ("https://%31%32%37.0.0.1/", "non-canonical numeric"),
        ("https://-bad-.example.org/", "not a valid domain"),
        ("https://a..b/", "not a valid domain"),
        ("partner.example.org/hook", "scheme"),
        ("", "scheme"),
        ("https://partner.example.org/" + "a" * 3000, "longer than"),
        (None, "must be a string"),
        (b"https://partner.example.org/", "must be a string"),
    ],
)
def test_hostile_urls_are_refused_with_a_reason(url: object, why: str) -> None:
    with pytest.raises(UnsafeUrlError) as err:
        guard(url)
    assert why in err.value.reason


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("https://partner.example.org/3/events", ("93.184.216.34",)),
        ("https://PARTNER.example.org./hook", ("93.184.216.34",)),
        ("https://v6.example.org:8443/hook", ("2606:4700::6810:85e5",)),
        ("https://93.184.216.34/hook", ("93.184.216.34",)),
        ("https://[2606:4700::6810:85e5]/hook", ("2606:4700::6810:85e5",)),
    ],
)
def test_public_https_urls_pass(url: str, addresses: tuple[str, ...]) -> None:
    guarded = guard(url)
    assert guarded.addresses == addresses
    assert guarded.scheme == "https" and not guarded.allow_listed


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1:8099/hook", ("127.0.0.1",)),
        ("https://10.0.0.1/hook", ("10.0.0.1",)),
        ("http://2130706433/", ("2130706433",)),
        ("https://[::1]:9000/", ("::1",)),
        ("http://receiver.test/", ("Receiver.Test",)),
    ],
)
def test_exact_allow_listed_hosts_skip_the_address_rules(url: str, allow: tuple[str, ...]) -> None:
    guarded = guard(url, allow)
    assert guarded.allow_listed and guarded.addresses == ()


def test_allow_list_is_exact_not_a_network() -> None:
    with pytest.raises(UnsafeUrlError, match="loopback"):
        guard("https://127.0.0.2/", ("127.0.0.1",))


def test_redirects_are_never_followed() -> None:
    assert FOLLOW_REDIRECTS is False


def test_address_problem_accepts_a_global_address() -> None:
    import ipaddress

    assert address_problem(ipaddress.ip_address("8.8.8.8")) is None
    assert address_problem(ipaddress.ip_address("192.0.2.1")) == "documentation (TEST-NET-1)"


@pytest.mark.parametrize(
    ("literal", "why"),
    [
        ("64:ff9b:1::7f00:1", "local-use NAT64"),  # RFC 8215 prefix, 127.0.0.1 in the last 32 bits
        ("64:ff9b:1:ffff::808:808", "local-use NAT64"),  # whatever it embeds: the operator's translator
        ("::ffff:0:7f00:1", "IPv4-translated IPv6 (SIIT) embedding 127.0.0.1: loopback"),
        ("::ffff:0:a00:1", "IPv4-translated IPv6 (SIIT) embedding 10.0.0.1"),
        ("::ffff:0:808:808", "IPv4-translated IPv6 (SIIT) (use the IPv4 form)"),
        ("64:ff9b::7f00:1", "NAT64 address embedding 127.0.0.1: loopback"),
        ("64:ff9b::a9fe:a9fe", "NAT64 address embedding 169.254.169.254"),
        ("64:ff9b:0:1::808:808", "NAT64 space outside the well-known"),
        ("2002:7f00:1::1", "6to4 address embedding 127.0.0.1: loopback"),
        ("2002:c0a8:101::1", "6to4 address embedding 192.168.1.1"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo address embedding 127.0.0.1"),
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo tunnel"),  # embeds 8.8.8.8: the prefix is refused
        ("::ffff:7f00:1", "IPv4-mapped IPv6 embedding 127.0.0.1: loopback"),
    ],
)
def test_ipv6_forms_that_embed_an_ipv4_address_are_judged_by_it(literal: str, why: str) -> None:
    with pytest.raises(UnsafeUrlError) as err:
        guard(f"https://[{literal}]/hook")
    assert why in err.value.reason
    FAKE_DNS["embedding.example.org"] = [literal]  # the same address from DNS is refused the same way
    try:
        with pytest.raises(UnsafeUrlError, match=r"embedding\.example\.org resolves to"):
            guard("https://embedding.example.org/hook")
    finally:
        del FAKE_DNS["embedding.example.org"]


@pytest.mark.parametrize("literal", ["64:ff9b::808:808", "2002:808:808::1"])
def test_translation_forms_of_a_public_ipv4_address_pass(literal: str) -> None:
    assert guard(f"https://[{literal}]/hook").addresses == (literal,)
