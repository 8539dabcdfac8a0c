"""The portal's pure parts: language negotiation and formatting, operator sessions, the value chain,
percentile ranks, chart sampling and accessibility, the language switch's redirect target."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from epd_portal import charts, i18n, views
from epd_portal.routes.site import safe_next
from epd_portal.sessions import SessionSealer


def test_language_from_the_switch_then_accept_language():
    assert i18n.negotiate(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert i18n.negotiate(None, "en;q=0.5, zh;q=0.9") == "zh-CN"
    assert i18n.negotiate(None, "zh-TW, en;q=0.4") == "en"  # Traditional Chinese readers get English, not zh-CN
    assert i18n.negotiate(None, "de, fr;q=0.5") == "en"
    assert i18n.negotiate("en", "zh-CN") == "en"
    assert i18n.negotiate("xx", "zh") == "zh-CN"
    assert i18n.negotiate(None, "zh;q=0, en") == "en"


def test_numbers_and_dates_per_locale():
    langs = i18n.languages()
    en, zh = langs["en"], langs["zh-CN"]
    assert en.number(Decimal("12345.6789")) == "12,345.679"
    assert en.percent(Decimal("13.62")) == "+13.6 %"
    when = datetime(2026, 1, 11, tzinfo=UTC)
    assert en.date(when) == "Jan 11, 2026" and zh.date(when) == "2026年1月11日"
    assert zh.gettext("Current certified version") == "当前认证版本"
    assert en.gettext("Current certified version") == "Current certified version"


def test_sessions_are_sealed_expire_and_resist_tampering():
    sealer = SessionSealer("a-key-secret-of-16+", 3600)
    session = sealer.new("operator-token-1234567", "Li", now=1000.0)
    cookie = sealer.seal(session)
    assert "operator-token" not in cookie
    assert sealer.open(cookie, now=1001.0) == session
    assert sealer.open(cookie, now=1000.0 + 3601) is None
    assert sealer.open(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1], now=1001.0) is None
    assert SessionSealer("another-secret-16+", 3600).open(cookie, now=1001.0) is None
    assert session.csrf_ok(session.csrf) and not session.csrf_ok("x") and not session.csrf_ok(None)


def test_upstream_products_from_the_product_systems():
    doc = {
        "processes": [
            {"outputs": [{"product": "magnet"}, {"product": "swarf"}], "inputs": [{"product": "metal", "amount": 0.3}]},
            {"outputs": [{"product": "metal"}], "inputs": [{"product": "oxide", "amount": 1.17, "unit": "kg"}]},
            {"outputs": [{"product": "magnet"}], "inputs": [{"activity": "grid", "amount": 3}]},
        ]
    }
    assert views.upstream("magnet", [doc]) == [("metal", "0.3", "")]
    assert views.upstream("metal", [doc, doc]) == [("oxide", "1.17", "kg")]
    assert views.upstream("oxide", [doc]) == []


def test_percentile_ranks_count_ties_together():
    ranks = views.percentile_ranks([Decimal(1), Decimal(2), Decimal(2), Decimal(5)])
    assert ranks == [Decimal(25), Decimal(75), Decimal(75), Decimal(100)]


def test_sampling_keeps_the_ends_and_the_limit():
    points = list(range(1000))
    sample = charts.sample(points, 400)
    assert len(sample) == 400 and sample[0] == 0 and sample[-1] == 999
    assert charts.sample(points[:10], 400) == points[:10]


def test_a_chart_is_accessible_deterministic_and_scriptless():
    lang = i18n.languages()["en"]
    points = [(Decimal(1), Decimal(50), "a"), (Decimal(2), Decimal(100), "b")]
    svg = charts.distribution(points, points[:1], lang)
    assert svg == charts.distribution(points, points[:1], lang)
    assert 'role="img"' in svg and "aria-labelledby" in svg and "<script" not in svg and "<!--" not in svg
    assert 'data-series="category"' in svg and 'data-series="marked"' in svg


def test_the_language_switch_redirects_only_within_the_site():
    assert safe_next("/products/x?plant=y") == "/products/x?plant=y"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        assert safe_next(target) == "/"


def test_rendered_charts_are_kept_by_their_data():
    built: list[int] = []
    cache = charts.SvgCache(size=2)

    def build(n: int) -> str:
        built.append(n)
        return f"<svg>{n}</svg>"

    assert cache.get(("a", 1), lambda: build(1)) == "<svg>1</svg>"
    assert cache.get(("a", 1), lambda: build(99)) == "<svg>1</svg>"
    cache.get(("b",), lambda: build(2))
    cache.get(("c",), lambda: build(3))  # evicts ("a", 1), the least recently used
    cache.get(("a", 1), lambda: build(4))
    assert built == [1, 2, 3, 4]
