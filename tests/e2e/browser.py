"""A real browser for the portal's end-to-end tests: Debian's Chromium driven by Selenium through the
chromedriver the Debian package installs (nothing is downloaded at run time), and axe-core from npm
(tests/e2e/axe, installed with its lockfile by `make`) injected into the page."""

from __future__ import annotations

import pathlib
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.conftest import REPO

AXE = REPO / "tests" / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def missing() -> str | None:
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver"), (AXE, "axe-core (npm ci)")):
        if not pathlib.Path(path).exists():
            return f"{what} is not installed at {path}: run make (deploy/local/install-system.sh, tests/e2e/axe)"
    return None


@contextmanager
def chromium(downloads: pathlib.Path, width: int = 1280, height: int = 1000) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def axe_violations(driver: webdriver.Chrome, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's violations of these impacts on the current page (WCAG 2.x A and AA rules)."""
    driver.execute_script(AXE.read_text())
    result: dict[str, Any] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(r)).catch(e => done({error: String(e)}));"
    )
    assert "error" not in result, result
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s")
