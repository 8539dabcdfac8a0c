"""The public registry portal in a real browser (Debian Chromium, Selenium), against the whole demo
system (tests/e2e/conftest.py; this test runs first): search for a product, open it, one chart point
per version, download each format and verify its signatures with `epd verify`, switch to Chinese, no
serious or critical axe-core violations, and a verifier who logs in approves the provisional version
the drift created and sees it become current.

Screenshots are saved under .run/artifacts/portal/; EPD_UPDATE_DOCS_SCREENSHOT=1 also writes the
README's docs/portal.png."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys

import asyncpg
import pytest
from selenium.webdriver.common.by import By

from epd_devstack import stack
from epd_devstack.demo.services import wait_for
from epd_devstack.demo.system import DemoSystem
from tests.conftest import REPO
from tests.e2e.browser import axe_violations, chromium, missing, wait_until
from tests.support.demo import admin_key

PRODUCT = "re-calcine"  # the roasting plant's product: +20 % electricity makes it drift clearly
ARTIFACTS = stack.RUN / "artifacts" / "portal"


@pytest.fixture(autouse=True)
def browser_installed():
    if reason := missing():
        pytest.fail(reason, pytrace=False)


def query(system: DemoSystem, sql: str, *args):
    async def run():
        conn = await asyncpg.connect(system.dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def versions(system: DemoSystem) -> dict[str, str]:
    rows = query(
        system,
        "SELECT v.pf_id::text AS pf_id, v.status FROM epd_versions v JOIN epd_series s USING (series_id) "
        "WHERE s.product_id = $1",
        PRODUCT,
    )
    return {r["pf_id"]: r["status"] for r in rows}


def chart_points(driver) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, 'figure.chart g[data-series="versions"] circle.dot'))


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def assert_accessible(driver, page: str) -> None:
    found = axe_violations(driver)
    assert not found, f"axe-core on {page}: {found}"


def verify(system: DemoSystem, document, signature, jwks: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "epd_cli.main", "verify", str(document), "--jwks", jwks,
         "--body-signature", signature.read_text()],
        env={**os.environ, **system.env}, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, f"epd verify {document.name}: {res.stdout}\n{res.stderr}"
    return res.stdout


# First on the shared demo system, so its time includes starting it and waiting for the drift.
@pytest.mark.timeout(900)
def test_a_person_finds_checks_and_a_verifier_approves(system, tmp_path):
    provisional = wait_for(
        lambda: next((pf for pf, status in versions(system).items() if status == "provisional"), None),
        timeout=300,
        what=f"a provisional version of {PRODUCT}; services down: {system.group.check_alive()}",
    )
    portal = system.env["EPD_PORTAL_PUBLIC_URL"]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with chromium(downloads) as driver:
        # Search, open the product.
        driver.get(portal + "/")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert_accessible(driver, "the search page")
        box = driver.find_element(By.ID, "q")
        box.send_keys("calcine")
        box.submit()
        wait_until(lambda: "calcine" in driver.current_url, 30, "the search result page")
        driver.find_element(By.PARTIAL_LINK_TEXT, "Acid-roasted calcine").click()
        wait_until(lambda: f"/products/{PRODUCT}" in driver.current_url, 30, "the product page")
        # One point per version the public sees: the published one (the provisional one is not public).
        table_rows = driver.find_elements(By.CSS_SELECTOR, "#history-values tbody tr")
        assert chart_points(driver) == len(table_rows) == 1
        assert provisional not in driver.page_source
        assert_accessible(driver, "the product page")
        shot(driver, "product-en")

        # Each format and its signature, downloaded by the browser, verify with the operator CLI.
        jwks = portal + "/.well-known/jwks.json"
        for fmt in ("pact", "ilcd", "openepd"):
            driver.find_element(By.CSS_SELECTOR, f'a[data-format="{fmt}"]').click()
            driver.find_element(By.CSS_SELECTOR, f'a[data-signature="{fmt}"]').click()
        suffixes = ("pact.json", "ilcd.xml", "openepd.json")
        wanted = [f"{PRODUCT}-v1.{s}" for s in suffixes] + [f"{PRODUCT}-v1.{s}.jws" for s in suffixes]
        wait_until(lambda: all((downloads / n).exists() for n in wanted), 60, f"downloads {wanted}")
        for suffix in suffixes:
            out = verify(system, downloads / f"{PRODUCT}-v1.{suffix}", downloads / f"{PRODUCT}-v1.{suffix}.jws", jwks)
            assert "body signature verifies" in out
            if suffix == "pact.json":
                assert "record signature verifies" in out

        # Chinese, by the switch on the page.
        driver.find_element(By.CSS_SELECTOR, 'a[hreflang="zh-CN"]').click()
        wait_until(lambda: driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN", 30, "zh-CN")
        assert "当前认证版本" in driver.page_source and "带签名的文件" in driver.page_source
        assert_accessible(driver, "the product page in Chinese")
        shot(driver, "product-zh")
        driver.find_element(By.CSS_SELECTOR, 'a[hreflang="en"]').click()

        # A verifier logs in with their own API key and approves the provisional version from the page.
        key = admin_key(system, "E2E Verifier", "verifier")
        driver.get(portal + "/operator/login")
        assert_accessible(driver, "the login page")
        driver.find_element(By.ID, "token").send_keys(key)
        driver.find_element(By.CSS_SELECTOR, "form.login button").click()
        wait_until(lambda: driver.current_url.endswith("/operator"), 30, "the operator queue")
        assert "E2E Verifier" in driver.page_source  # named by the admin API from the key, not typed in
        driver.find_element(By.PARTIAL_LINK_TEXT, "Acid-roasted calcine").click()
        approve = driver.find_element(
            By.CSS_SELECTOR, f'form[action="/operator/versions/{provisional}/approve"] button'
        )
        assert_accessible(driver, "the product page for a verifier")
        shot(driver, "product-operator")
        approve.click()
        wait_until(lambda: "notice=approved" in driver.current_url, 60, "the approval")
        current = driver.find_element(By.CSS_SELECTOR, "[data-version]").text
        assert current == "2" and versions(system)[provisional] == "published"
        recorded = query(system, "SELECT verifier, decided_by FROM epd_versions WHERE pf_id = $1::uuid", provisional)
        assert recorded[0]["verifier"].startswith("E2E Verifier") and recorded[0]["decided_by"]
        assert chart_points(driver) == len(driver.find_elements(By.CSS_SELECTOR, "#history-values tbody tr")) == 2
        if os.environ.get("EPD_UPDATE_DOCS_SCREENSHOT") == "1":
            driver.find_element(By.CSS_SELECTOR, "header.site form.inline button").click()  # log out first
            driver.get(portal + f"/products/{PRODUCT}")
            driver.set_window_size(1280, 2200)  # down to the chart of every version
            (REPO / "docs").mkdir(exist_ok=True)
            driver.save_screenshot(str(REPO / "docs" / "portal.png"))
            shutil.copy(REPO / "docs" / "portal.png", ARTIFACTS / "docs-portal.png")
