"""Fixtures for intensity unit tests (no I/O beyond reading the packaged data files)."""

from __future__ import annotations

import pytest
from intensity_builders import PROCESSES_YAML

from epd_intensity.factors import FactorLibrary, load_library
from epd_intensity.processes import parse_processes


@pytest.fixture(scope="session")
def library() -> FactorLibrary:
    return load_library()


@pytest.fixture(scope="session")
def processes():
    return parse_processes(PROCESSES_YAML)
