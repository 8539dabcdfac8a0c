"""The three-broker cluster (make stack-up BROKERS=3, failure tests) runs beside the one-broker stack:
no port of one is a port of the other (it once started its first broker on the stack's 19092)."""

from __future__ import annotations

import uuid

from epd_devstack import kafka as devstack_kafka
from epd_devstack import stack


def ports(brokers: int) -> set[int]:
    kafka = stack.components(brokers)["kafka"]
    return {p for node in kafka.nodes for p in (node.broker_port, node.controller_port)}


def test_the_three_broker_cluster_shares_no_port_with_the_one_broker_stack(monkeypatch):
    monkeypatch.delenv("EPD_KAFKA_PORT", raising=False)
    monkeypatch.delenv("EPD_KAFKA_CLUSTER_PORT", raising=False)
    one, three = ports(1), ports(3)
    assert len(three) == 6 and not one & three
    assert stack.components(1)["kafka"].bootstrap == "127.0.0.1:19092"
    assert stack.components(3)["kafka"].bootstrap == "127.0.0.1:29092,127.0.0.1:29192,127.0.0.1:29292"


def test_both_clusters_share_the_jars_of_the_run_directory():
    assert stack.components(3)["kafka"].libs == stack.components(1)["kafka"].libs == stack.RUN / "kafka" / "libs"


def test_cluster_ids_never_start_with_a_dash(monkeypatch):
    # kafka-storage format takes an id starting with '-' for an option: such draws are drawn again
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x00" * 16)])
    monkeypatch.setattr(devstack_kafka.uuid, "uuid4", lambda: next(draws))
    assert devstack_kafka.new_cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"
