"""The deploy tests' own three-broker Kafka cluster: tools/devstack's KafkaCluster (the code behind
`make stack-up BROKERS=3`) on free ports in a temporary folder, so the shared one-broker stack is
never disturbed. Its brokers are strict, like a production cluster's: topics are not created on
first use, and the default min.insync.replicas is 1, so only what the services set counts. Started
by the first test that asks for it, stopped after the last test of this folder."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from epd_devstack.kafka import KafkaCluster, free_cluster_port

HERE = pathlib.Path(__file__).resolve().parent
_running: dict[str, KafkaCluster] = {}


@pytest.fixture(scope="session")
def three_brokers(tmp_path_factory) -> KafkaCluster:
    if "cluster" not in _running:
        cluster = KafkaCluster(
            tmp_path_factory.mktemp("kafka3"),
            nodes=3,
            broker_port=free_cluster_port(),
            heap="384m",
            properties={
                "auto.create.topics.enable": "false",
                "min.insync.replicas": "1",
                "default.replication.factor": "1",
            },
        )
        _running["cluster"] = cluster
        cluster.start(timeout=300)
    return _running["cluster"]


async def restart_missing_brokers(cluster: KafkaCluster) -> None:
    """Start the brokers a test stopped and wait until the metadata lists all three again."""
    await asyncio.to_thread(cluster.start, 300)


def _discard() -> None:
    """Its data is thrown away: SIGKILL (a clean shutdown takes a minute on these machines)."""
    cluster = _running.pop("cluster")
    for node in cluster.nodes:
        cluster.stop_node(node, kill=True)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if "cluster" in _running and (nextitem is None or HERE not in pathlib.Path(str(nextitem.fspath)).parents):
        _discard()


def pytest_sessionfinish(session, exitstatus):
    if "cluster" in _running:
        _discard()
