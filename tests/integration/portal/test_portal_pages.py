"""The portal's pages against a real, seeded database read through the read-only role: what the
public sees (published versions and withdrawn ones, marked; never provisional or rejected ones),
search filters and paging, the charts and their tables, both languages, HTTP caching, the feeds."""

from __future__ import annotations

import re

from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
SVG = "http://www.w3.org/2000/svg"


def points(html: str, series: str) -> int:
    """Dots pygal drew for one series (charts.render marks each series group with data-series)."""
    svgs = [etree.fromstring(s) for s in re.findall(r"<svg.*?</svg>", html, re.S)]
    path = "//s:g[@data-series=$series]//s:circle[contains(@class, 'dot')]"
    return sum(len(svg.xpath(path, namespaces={"s": SVG}, series=series)) for svg in svgs)


async def test_search_shows_current_public_versions_with_filters_and_paging(portal):
    page = (await portal.http.get("/")).text
    assert "3 EPDs found" in page  # oxide, magnet, metal (withdrawn after publication); not the rejected carbonate
    assert "Page 1 of 2" in page and 'rel="next"' in page
    both = (await portal.http.get("/?sort=gwp&page=1")).text + (await portal.http.get("/?sort=gwp&page=2")).text
    assert both.index("Sintered NdFeB magnet") < both.index("Neodymium metal") < both.index("Neodymium oxide")
    assert "45.6" in both and "52" not in re.sub(r"<svg.*?</svg>", "", both, flags=re.S)  # provisional 52.0 hidden
    assert "Mixed carbonate" not in both
    oxide = (await portal.http.get("/", params={"classification": "HS 2846"})).text
    assert "1 EPDs found" in oxide and "Neodymium oxide" in oxide
    withdrawn = (await portal.http.get("/", params={"status": "withdrawn"})).text
    assert "Neodymium metal" in withdrawn and 'status-withdrawn">withdrawn' in withdrawn
    assert "Neodymium metal" in (await portal.http.get("/", params={"q": "ganzhou"})).text
    assert "No EPD matches" in (await portal.http.get("/", params={"q": "100%_"})).text  # wildcards are literal
    bad = await portal.http.get("/", params={"q": "a\x00b"})
    assert bad.status_code == 400 and "<html" in bad.text


async def test_product_page_public_view(portal):
    r = await portal.http.get("/products/nd-oxide")
    html = r.text
    assert r.status_code == 200 and '<html lang="en">' in html
    assert points(html, "versions") == 2  # versions 1 and 2; the provisional version 3 is not public
    assert points(html, "drift") == 1 and points(html, "approvals") == 1
    assert "data-version>2<" in html and "/approve" not in html
    assert str(portal.seeded.pf["oxide-3"]) not in html
    assert "ab" * 32 in html and "MEE/NBS 2022 provincial grid factor" in html  # evidence root, factor citation
    assert 'role="img"' in html and "aria-labelledby" in html and "<script" not in html
    magnet = (await portal.http.get("/products/magnet")).text
    assert 'href="/products/nd-metal"' in magnet  # upstream value chain, linked
    company = (await portal.http.get("/companies/org-a")).text
    assert "CN-NM" in company and "40.6" not in company and "109.8" not in company  # region, never coordinates
    category = (await portal.http.get("/categories/pcr-rare-earths?product=magnet")).text
    assert points(category, "category") == 2 and points(category, "marked") == 1  # oxide, magnet; metal withdrawn
    assert (await portal.http.get("/products/carbonate")).text.count("This product has no certified EPD yet") == 1
    assert (await portal.http.get("/products/nope")).status_code == 404


async def test_chinese_by_accept_language_and_by_the_switch(portal):
    zh = (await portal.http.get("/products/nd-oxide", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"})).text
    assert '<html lang="zh-CN">' in zh and "当前认证版本" in zh and "全部版本" in zh and "已被取代" in zh
    assert "2026年1月11日" in zh  # dates per locale
    switch = await portal.http.get("/language/zh-CN", params={"next": "/categories"})
    assert switch.status_code == 303 and switch.headers["location"] == "/categories"
    page = await portal.http.get("/categories")  # the client keeps the cookie
    assert "产品类别" in page.text
    assert (await portal.http.get("/language/en", params={"next": "//evil.example/"})).headers["location"] == "/"


async def test_etags_and_cache_headers(portal):
    first = await portal.http.get("/products/nd-oxide")
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert "Accept-Language" in first.headers["vary"]
    again = await portal.http.get("/products/nd-oxide", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert (await portal.http.get("/products/nd-oxide")).headers["etag"] == first.headers["etag"]  # deterministic
    static = await portal.http.get("/static/portal.css")
    assert static.status_code == 200 and static.headers.get("etag")


async def test_atom_feeds(portal):
    r = await portal.http.get("/feeds/versions.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(r.content)
    ids = {e.findtext(f"{ATOM}id") for e in feed.iter(f"{ATOM}entry")}
    public = {f"urn:uuid:{portal.seeded.pf[k]}" for k in ("oxide-1", "oxide-2", "magnet-1", "metal-1")}
    assert ids == public
    per_category = etree.fromstring((await portal.http.get("/feeds/categories/pcr-rare-earths.atom")).content)
    assert len(list(per_category.iter(f"{ATOM}entry"))) == 4
    assert (await portal.http.get("/feeds/categories/nope.atom")).status_code == 404
