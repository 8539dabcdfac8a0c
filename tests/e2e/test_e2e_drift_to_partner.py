"""From plant to partner: +20 % electricity at the roasting plant becomes provisional EPD versions,
the change feed and signed partner deliveries show them, a verifier's approval through the CLI
publishes them, the gateway serves them with precedingPfIds and the superseded ones as Deprecated,
and the metrics, dashboards and recording rules have data.

One DemoSystem (the same one `make run` starts, tests/e2e/conftest.py) runs for every e2e test: real
Kafka, PostgreSQL, Mosquitto, Prometheus, every service as a process, simulators feeding MQTT.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import ssl
import sys
import time
import uuid

import httpx
import pytest
import yaml

from epd.v1 import footprint_pb2
from epd_common.kafka import KafkaConnection, make_consumer
from epd_common.topics import FOOTPRINT_CHANGES
from epd_devstack.demo.console import scrape
from epd_devstack.demo.seed import DEMO
from epd_devstack.demo.services import epd, run_cli, wait_for
from epd_devstack.demo.system import PORTS, DemoSystem
from epd_footprint.engine import compute, parse_system
from tests.conftest import REPO
from tests.support.demo import admin_key, cli, db

DRIFT = 0.20
THRESHOLD = 0.10
# The simulated meters carry noise, so a product whose expected move is within this margin of the
# threshold may or may not drift; products clearly past it must, products clearly below must not.
NOISE_MARGIN = 0.025


def expected_moves() -> dict[str, float]:
    """Relative move of each product's A1-A3 GWP-total when roasting electricity rises 20 %."""
    doc = yaml.safe_load((DEMO / "product-system.yaml").read_text())
    base = {f.product: f.gwp["A1-A3"]["GWP-total"] for f in compute(parse_system(doc), detail=False)}
    drifted = copy.deepcopy(doc)
    for p in drifted["processes"]:
        if p["id"] == "baotou-smelter/roasting":
            for x in p["inputs"]:
                if x.get("activity") == "grid-inner-mongolia-2022":
                    x["amount"] = x["amount"] * (1 + DRIFT)
    live = {f.product: f.gwp["A1-A3"]["GWP-total"] for f in compute(parse_system(drifted), detail=False)}
    return {p: float(abs(live[p] / base[p] - 1)) for p in base}


def open_versions(system: DemoSystem) -> dict[str, dict]:
    """The versions the drift created: provisional, or already approved (the portal's browser test, which
    runs first on the same system, approves one from the page)."""
    rows = db(
        system,
        """SELECT s.product_id, v.pf_id::text AS pf_id, v.preceding_pf_id::text AS preceding, v.reason, v.status
           FROM epd_versions v JOIN epd_series s USING (series_id)
           WHERE v.status = 'provisional' OR (v.status = 'published' AND v.preceding_pf_id IS NOT NULL)""",
    )
    return {r["product_id"]: dict(r) for r in rows}


@functools.cache
def registry(system: DemoSystem) -> KafkaConnection:
    """A registry's read-only principal, granted as an operator would (`epd kafka grant-subscriber`)."""
    made = run_cli(
        epd("kafka", "grant-subscriber", f"e2e-registry-{uuid.uuid4().hex[:8]}", "--json"),
        {**system.env, **system.kafka.env()},
    )
    granted = json.loads(made)
    return system.kafka.connection().as_user(granted["username"], granted["password"])


def feed_events(system: DemoSystem) -> list[footprint_pb2.FootprintChanged]:
    async def read() -> list:
        consumer = make_consumer(registry(system), None, FOOTPRINT_CHANGES.topic(system.prefix))
        await consumer.start()
        out = []
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=3000)
                if not batch:
                    return out
                out += [FOOTPRINT_CHANGES.decode(r.value) for rs in batch.values() for r in rs]
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_drift_reaches_partners_and_approval_publishes(system):
    moves = expected_moves()
    must = {p for p, m in moves.items() if m > THRESHOLD + NOISE_MARGIN}
    may = {p for p, m in moves.items() if m > THRESHOLD - NOISE_MARGIN}
    assert "re-calcine" in must, "the demo data must make the roasting product drift clearly"
    started = time.monotonic()
    versions = wait_for(
        lambda: (v := open_versions(system)) and must <= set(v) and v,
        timeout=300,
        what=f"provisional versions of {sorted(must)}; services down: {system.group.check_alive()}",
    )
    print(f"drift -> provisional versions in {time.monotonic() - started:.0f}s: {sorted(versions)}")
    time.sleep(10)  # let borderline products finish their evaluations
    versions = open_versions(system)
    # Only products past their threshold get a version: the others stay on their published EPD.
    assert must <= set(versions) <= may, {p: f"{moves[p]:+.1%}" for p in versions}
    for product, v in versions.items():
        assert v["reason"].startswith("drift") or "cascade" in v["reason"], v["reason"]
        assert v["preceding"] == system.seeded.published_pf_ids[product]

    # The change feed shows every new version.
    created = {
        (e.product_id, e.pf_id)
        for e in feed_events(system)
        if e.change_type == footprint_pb2.FOOTPRINT_CHANGE_TYPE_CREATED
    }
    assert {(p, f"urn:uuid:{v['pf_id']}") for p, v in versions.items()} <= created

    # The partner receives them, each verified by the receiver with the standardwebhooks library.
    receiver = f"http://127.0.0.1:{system.opts.receiver_port}/deliveries"

    def delivered_ids() -> set[str]:
        return {d["data"]["id"] for d in httpx.get(receiver, timeout=5).json()["deliveries"]}

    wait_for(
        lambda: {v["pf_id"] for v in versions.values()} <= delivered_ids(),
        timeout=120,
        what="partner deliveries of the provisional versions",
    )
    assert httpx.get(receiver, timeout=5).json()["rejected"] == 0

    # A verifier (a user `epd admin users add` made, with the settings make run leaves in .run/demo/env)
    # approves through the CLI with their own API key: provisional -> verified -> published, the old one
    # deprecated; the version records that verifier.
    assert f"EPD_PG_DSN={system.dsn}" in system.env_file.read_text()
    key = admin_key(system, "e2e verifier", "verifier")
    for v in versions.values():
        if v["status"] == "provisional":
            cli(system, "footprint", "approve", v["pf_id"], env={"EPD_FOOTPRINT_ADMIN_TOKEN": key})
    approved = {
        r["pf_id"]: r["verifier"]
        for r in db(system, "SELECT pf_id::text AS pf_id, verifier FROM epd_versions WHERE decided_by IS NOT NULL")
    }
    assert all(
        approved[v["pf_id"]].startswith("e2e verifier") for v in versions.values() if v["status"] == "provisional"
    )
    statuses = {r["pf_id"]: r["status"] for r in db(system, "SELECT pf_id::text AS pf_id, status FROM epd_versions")}
    for v in versions.values():
        assert statuses[v["pf_id"]] == "published" and statuses[v["preceding"]] == "deprecated"

    # The gateway serves them (HTTPS, OAuth2 client credentials) with precedingPfIds; the old as Deprecated.
    base = system.env["EPD_GATEWAY_PUBLIC_URL"]
    ca = str(system.run_dir / "tls" / "cert.pem")
    with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=ca), timeout=20) as http:
        token = (
            http.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(system.seeded.client_id, system.seeded.client_secret),
            )
            .raise_for_status()
            .json()
        )
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        for product, v in versions.items():
            new = wait_for(
                lambda pf_id=v["pf_id"]: (
                    (r := http.get(f"/3/footprints/{pf_id}", headers=auth)).status_code == 200 and r.json()["data"]
                ),
                timeout=30,
                what=f"gateway record of {product}",
            )
            assert new["status"] == "Active"
            assert new["precedingPfIds"] == [v["preceding"]]
            old = http.get(f"/3/footprints/{v['preceding']}", headers=auth).raise_for_status().json()["data"]
            assert old["status"] == "Deprecated"
        # The record verifies against the gateway's JWKS with the operator CLI.
        record_file = system.run_dir / "e2e-record.json"
        record_file.write_text(json.dumps(new))
        out = cli(system, "verify", str(record_file), "--jwks", f"{base}/.well-known/jwks.json", "--ca", ca)
        assert "signature verifies" in out

    # The change feed has the approval's events too.
    kinds = {(e.product_id, e.change_type) for e in feed_events(system)}
    for product in versions:
        assert (product, footprint_pb2.FOOTPRINT_CHANGE_TYPE_PUBLISHED) in kinds
        assert (product, footprint_pb2.FOOTPRINT_CHANGE_TYPE_DEPRECATED) in kinds


def test_metrics_moved_and_every_dashboard_query_has_data(system):
    moved = {
        ("connector-baotou-smelter", "epd_connector_batches_sent_total"),
        ("ingest", "epd_ingest_readings_accepted_total"),
        ("intensity", "epd_intensity_windows_emitted_total"),
        ("footprint", "epd_footprint_versions_created_total"),
        ("publisher", "epd_publisher_events_published_total"),
    }
    for service, metric in moved:
        assert scrape(PORTS[service]).get(metric, 0) > 0, f"{metric} of {service} did not move"
    # Foreign-body traffic on the gateway, so its RED and key panels have something to show.
    base = system.env["EPD_GATEWAY_PUBLIC_URL"]
    tls = ssl.create_default_context(cafile=str(system.run_dir / "tls" / "cert.pem"))
    with httpx.Client(base_url=base, verify=tls, timeout=20) as http:
        token = (
            http.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(system.seeded.client_id, system.seeded.client_secret),
            )
            .raise_for_status()
            .json()
        )
        http.get(
            "/3/footprints?limit=5", headers={"Authorization": f"Bearer {token['access_token']}"}
        ).raise_for_status()

    # People on the portal, so its RED panels have something to show.
    httpx.get(system.env["EPD_PORTAL_PUBLIC_URL"] + "/", timeout=20).raise_for_status()

    sys.path.insert(0, str(REPO / "deploy" / "grafana"))
    from queries import queries_without_data

    from epd_devstack import stack

    empty: list = []

    def all_have_data() -> bool:
        empty[:] = queries_without_data(stack.prometheus().url, include_incidents=False)
        return not empty

    try:
        wait_for(all_have_data, timeout=90, interval=5, what="every dashboard query and recording rule with data")
    except TimeoutError:
        pytest.fail("queries without data: " + "; ".join(f"{q.source}: {q.promql()}" for q in empty))
