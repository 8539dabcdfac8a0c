"""Shared fixtures. Integration and e2e tests use the real local stack (tools/devstack): if it is
not running, the session starts it (never skips). Each test gets unique topic and group names.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from epd_common.kafka import KafkaConnection

REPO = pathlib.Path(__file__).resolve().parents[1]

# Tests run on a development machine: the shipped development secrets and single-replica topics are
# accepted (epd_common.settings). Set for every process the tests start; tests of production
# behaviour say EPD_ENVIRONMENT=production themselves.
os.environ["EPD_ENVIRONMENT"] = "local"
SHARED_SPECS = REPO.parent / "shared" / "specs"


def shared_spec(relative: str) -> pathlib.Path:
    """A file or folder of the reference specs in ../shared/specs (PACT OpenAPI, ILCD+EPD XSDs).

    They are not part of the product. Without them a developer's run skips the contract tests with
    the reason; CI (CI=true) fails instead, so a missing checkout never hides them."""
    path = SHARED_SPECS / relative
    if not path.exists():
        message = f"reference spec {path} not found (expected in ../shared/specs beside the repository)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + "; CI=true requires it", pytrace=False)
        pytest.skip(message)
    return path


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if "/tests/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack():
    """The running local stack; started here when a test run finds it down. The topics this session
    made under its prefixes are deleted at its end (tests/support/topic_cleanup.py)."""
    from epd_devstack import stack as devstack
    from epd_devstack.procs import port_open

    comps = devstack.components(1)
    kafka_port = comps["kafka"].nodes[0].broker_port
    if not (
        port_open("127.0.0.1", kafka_port)
        and port_open("127.0.0.1", comps["postgres"].port)
        and port_open("127.0.0.1", comps["mosquitto"].port)
    ):
        comps = devstack.up(1)
    # Tests, and the services they start, connect as the cluster's admin principal (a super user);
    # the services' own principals and grants are tested in test_kafka_access and end to end.
    for name, value in comps["kafka"].env().items():
        os.environ.setdefault(name, value)
    yield comps
    from epd_common.settings import ServiceSettings
    from epd_devstack.kafka import delete_topics_with_prefixes
    from tests.support.topic_cleanup import SESSION_PREFIXES

    asyncio.run(delete_topics_with_prefixes(ServiceSettings().kafka, SESSION_PREFIXES))


@pytest.fixture(scope="session")
def kafka_bootstrap(stack) -> str:
    return os.environ["EPD_KAFKA_BOOTSTRAP"]


@pytest.fixture(scope="session")
def kafka(stack) -> KafkaConnection:
    """The local cluster as its admin principal (or as EPD_KAFKA_* say)."""
    from epd_common.settings import ServiceSettings

    return ServiceSettings().kafka


@pytest.fixture(scope="session")
def pg_dsn(stack) -> str:
    return os.environ.get("EPD_PG_DSN", stack["postgres"].dsn)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, group and database names of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def topic_prefix(unique) -> str:
    from tests.support.topic_cleanup import remember

    return remember(f"t{unique}.")


@pytest.fixture
async def pg_pool(pg_dsn):
    from epd_common.db import create_pool

    pool = await create_pool(pg_dsn, max_size=5)
    yield pool
    await pool.close()


@contextlib.asynccontextmanager
async def scratch_database(pg_dsn: str, name: str | None = None) -> AsyncIterator[str]:
    """A new database with every migration applied (a copy of the migrated template), dropped after."""
    from epd_devstack.databases import create_migrated_database, drop_database

    name = name or f"t_{uuid.uuid4().hex[:10]}"
    dsn = await create_migrated_database(pg_dsn, name)
    try:
        yield dsn
    finally:
        await drop_database(pg_dsn, name)


@pytest.fixture
async def fresh_db(pg_dsn, unique):
    """A new database with every migration applied, dropped after the test: full isolation."""
    async with scratch_database(pg_dsn, f"t_{unique}") as dsn:
        yield dsn
