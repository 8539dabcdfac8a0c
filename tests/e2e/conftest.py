"""End-to-end tests: the whole pipeline from simulated plants to partners (issue 9), and the audit of
what it made (issue 17). One demo system for the session."""

from __future__ import annotations

import pytest

from epd_devstack.demo.system import DemoOptions, DemoSystem


@pytest.fixture(scope="session")
def system(stack):
    """The system `make run` starts, with +20 % electricity at the roasting plant from hour 2."""
    demo = DemoSystem(DemoOptions(speed=600, duration="8h", drift=("roasting.electricity=+20%@2h",)))
    try:
        demo.start(log=lambda msg: print(msg, flush=True))
        yield demo
    finally:
        demo.stop()
