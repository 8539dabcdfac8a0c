"""End-to-end tests: the whole pipeline from simulated plants to partners and people (issues 9, 16),
and the audit of what it made (issue 17).

One demo system serves every e2e test (starting and stopping it takes minutes). The portal's browser
test runs first: it approves, from the page, a provisional version the drift created; the drift test
then finds that version published and approves the others with the CLI."""

from __future__ import annotations

import pytest

from epd_devstack.demo.system import DemoOptions, DemoSystem
from tests.support.topic_cleanup import remember

FIRST = "test_e2e_portal_browser.py"


def pytest_collection_modifyitems(config, items):
    """The browser test before the other e2e tests (it needs a version still awaiting a verifier); the
    order of every other test stays as collected."""
    slots = [i for i, item in enumerate(items) if "/tests/e2e/" in str(item.fspath)]
    ordered = sorted((items[i] for i in slots), key=lambda item: item.fspath.basename != FIRST)
    for i, item in zip(slots, ordered, strict=True):
        items[i] = item


@pytest.fixture(scope="session")
def system(stack):
    """The system `make run` starts, with +20 % electricity at the roasting plant from hour 2."""
    demo = DemoSystem(DemoOptions(speed=600, duration="8h", drift=("roasting.electricity=+20%@2h",)))
    remember(demo.prefix)  # its topics go when the session ends
    try:
        demo.start(log=lambda msg: print(msg, flush=True))
        yield demo
    finally:
        demo.stop()
