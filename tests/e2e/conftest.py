"""End-to-end tests: the whole pipeline from simulated plants to partners, on one demo system (the
one `make run` starts) shared by every e2e module of the session; modules run in name order."""

from __future__ import annotations

import pytest

from epd_devstack.demo.system import DemoOptions, DemoSystem


@pytest.fixture(scope="session")
def system(stack):
    demo = DemoSystem(DemoOptions(speed=600, duration="8h", drift=("roasting.electricity=+20%@2h",)))
    try:
        demo.start(log=lambda msg: print(msg, flush=True))
        yield demo
    finally:
        demo.stop()
