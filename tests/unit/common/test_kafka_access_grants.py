"""The grant table (epd_common.kafka_access): each service may touch only the topics of its place in the
pipeline (DESIGN.md section 2), registries may only read, and hostile names are refused."""

from __future__ import annotations

import hashlib

import pytest

from epd_common import topics
from epd_common.kafka_access import (
    LAG_EXPORTER,
    SERVICE_GROUPS,
    SERVICES,
    AccessError,
    Operation,
    Pattern,
    ResourceType,
    salted_password,
    service_grants,
    subscriber_grants,
)


def topic_ops(grants, prefix: str = "") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for g in grants:
        if g.resource == ResourceType.TOPIC and g.pattern == Pattern.LITERAL:
            out.setdefault(g.name.removeprefix(prefix), set()).add(g.operation.name)
    return out


def test_the_connector_only_writes_raw_telemetry():
    assert topic_ops(service_grants("epd-connector")) == {topics.TELEMETRY_RAW.name: {"WRITE", "DESCRIBE", "CREATE"}}
    assert not [g for g in service_grants("epd-connector") if g.resource != ResourceType.TOPIC]


@pytest.mark.parametrize(
    ("principal", "reads", "writes"),
    [
        ("epd-ingest", {topics.TELEMETRY_RAW.name}, {topics.TELEMETRY_READINGS.name, topics.TELEMETRY_REJECTED.name}),
        ("epd-intensity", {topics.TELEMETRY_READINGS.name}, {topics.INTENSITY_WINDOWS.name}),
        ("epd-footprint", {topics.INTENSITY_WINDOWS.name}, {topics.INTENSITY_WINDOWS_DEAD_LETTERS.name}),
        (
            "epd-publisher",
            {topics.FOOTPRINT_CHANGES.name},
            {topics.FOOTPRINT_CHANGES.name, topics.FOOTPRINT_RECORDS.name, topics.FOOTPRINT_CHANGES_DEAD_LETTERS.name},
        ),
    ],
)
def test_each_service_reads_and_writes_its_own_topics_only(principal, reads, writes):
    ops = topic_ops(service_grants(principal, "p."), "p.")
    for spec in topics.ALL_TOPICS:
        got = ops.get(spec.name, set())
        assert ("READ" in got) == (spec.name in reads), (spec.name, got)
        assert ("WRITE" in got) == (spec.name in writes), (spec.name, got)
        assert ("CREATE" in got) == (spec.name in writes), (spec.name, got)
    groups = [g for g in service_grants(principal, "p.") if g.resource == ResourceType.GROUP]
    assert [(g.name, g.pattern, g.operation) for g in groups] == [(f"p.{principal}", Pattern.PREFIXED, Operation.READ)]


def test_only_the_intensity_worker_owns_internal_topics_and_no_service_touches_the_cluster():
    for principal in SERVICES:
        grants = service_grants(principal, "p.")
        assert all(g.resource != ResourceType.CLUSTER for g in grants)
        assert all(g.name.startswith("p.") for g in grants)
        everything = [g for g in grants if g.operation == Operation.ALL]
        if principal == "epd-intensity":
            assert {(g.name, g.pattern) for g in everything} == {
                ("p.epd-intensity-", Pattern.PREFIXED),
                ("p." + topics.INTENSITY_CORRECTIONS, Pattern.LITERAL),
            }
        else:
            assert everything == []


def test_a_subscriber_reads_the_change_feed_and_records_in_its_own_groups():
    grants = subscriber_grants("registry-de", "p.")
    assert topic_ops(grants, "p.") == {
        topics.FOOTPRINT_CHANGES.name: {"READ", "DESCRIBE"},
        topics.FOOTPRINT_RECORDS.name: {"READ", "DESCRIBE"},
    }
    groups = [(g.name, g.pattern) for g in grants if g.resource == ResourceType.GROUP]
    assert groups == [("registry-de", Pattern.PREFIXED)]


@pytest.mark.parametrize("name", ["", "a", "*", "User:x", "Registry", "../x", "x" * 64, "a b", "epd-publisher", "-x"])
def test_names_that_are_not_a_subscribers_are_refused(name):
    with pytest.raises(AccessError, match="is not a subscriber name"):
        subscriber_grants(name)


def test_an_unknown_service_principal_is_refused():
    with pytest.raises(AccessError, match="unknown service principal"):
        service_grants("epd-gateway")


def test_the_salted_password_is_rfc5802_hi_with_sha512():
    # Hi(p, s, 1) = HMAC(p, s || INT(1)): the first PBKDF2 block, computed here from its definition.
    import hmac

    first = hmac.new(b"pencil", b"salt" + (1).to_bytes(4, "big"), hashlib.sha512).digest()
    assert salted_password("pencil", b"salt", iterations=1) == first
    assert salted_password("pencil", b"salt") != salted_password("pencil", b"pepper")


def test_the_lag_exporter_only_describes_the_pipelines_topics_and_the_services_groups():
    """Enough to list the groups and fetch their committed offsets and the topics' high watermarks; no
    READ (no Fetch of a record), no WRITE, nothing on the cluster, nothing outside the prefix."""
    grants = service_grants(LAG_EXPORTER, "p.")
    assert LAG_EXPORTER in SERVICES  # `epd kafka grant-services` provisions it with the services
    assert {g.operation for g in grants} == {Operation.DESCRIBE}
    described = {spec.name for spec in topics.ALL_TOPICS} | {topics.INTENSITY_CORRECTIONS}
    assert topic_ops(grants, "p.") == {name: {"DESCRIBE"} for name in described}
    groups = {(g.name, g.pattern) for g in grants if g.resource == ResourceType.GROUP}
    assert groups == {(f"p.{group}", Pattern.PREFIXED) for group in SERVICE_GROUPS.values()}
    assert {g.resource for g in grants} == {ResourceType.TOPIC, ResourceType.GROUP}
    # the lag of the two autoscaled workers' groups on the topics they consume is visible
    assert ("p.epd-ingest", Pattern.PREFIXED) in groups and ("p.epd-intensity", Pattern.PREFIXED) in groups
    with pytest.raises(AccessError, match="is not a subscriber name"):  # nor may a registry take its name
        subscriber_grants(LAG_EXPORTER)
