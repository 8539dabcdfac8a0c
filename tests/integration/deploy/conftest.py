"""The deploy tests' own three-broker Kafka cluster: tools/devstack's KafkaCluster (the code behind
`make stack-up BROKERS=3`) on free ports in a temporary folder, so the shared one-broker stack is
never disturbed. Its brokers are strict, like a production cluster's: topics are not created on
first use, and the default min.insync.replicas is 1, so only what the services set counts. Started
by the first test that asks for it, stopped after the last test of this folder."""

from __future__ import annotations

import asyncio
import pathlib
import random
import socket

import pytest

from epd_devstack.kafka import KafkaCluster

HERE = pathlib.Path(__file__).resolve().parent
_running: dict[str, KafkaCluster] = {}


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port(rng: random.Random | None = None) -> int:
    """A base port p with p, p+1, p+100, p+101, p+200, p+201 free (KafkaCluster's layout)."""
    rng = rng or random.Random()
    for _ in range(200):
        base = rng.randrange(30000, 60000)
        if all(_free(base + 100 * i + j) for i in range(3) for j in range(2)):
            return base
    raise RuntimeError("no free ports for a three-broker cluster")


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
