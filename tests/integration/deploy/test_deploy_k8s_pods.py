"""The k8s manifests run as written: for each overlay, the migration Job and then every Deployment of this
workspace's image (not the third-party lag exporter, whose principal's login is checked) are started
here as their pods would run them (k8s_pod.py: own network namespace with the pod address, read-only
root filesystem, the volumes, exactly the manifest's environment, command and args), and
each Deployment's readiness and liveness probes must answer on the port and path the manifest names.

What points at cluster services is replaced by this machine's: Kafka is the deploy tests' three-broker
cluster (conftest.py; SASL_SSL, SCRAM-SHA-512, the StandardAuthorizer), PostgreSQL the local stack's, in
a fresh database the migration Job migrates. The provisioning Job then runs as the cluster's admin
(the admin's password is the cluster's own, like its address) and sets each service principal's
password from the services' Secrets, which the services then log in with: the production stand-ins
carry the cluster's per-principal passwords, the local overlay its shipped development ones (the
cluster's own are set again afterwards). What the overlays expect to exist outside git (the
production Secrets, the brokers' CA, the connector's key and plant, the intensity worker's processes,
the gateway's certificate) gets test values. The production run also checks that every topic the Job
and the services created, faust's included, has 3 replicas and min.insync 2.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from k8s_pod import Objects, Sandbox, container_env, probe, service_links, start, stop
from k8s_render import EXPORTERS, OVERLAYS, SERVICES, by_kind, render, workloads

from epd_common import kafka_access
from epd_common.kafka import KafkaConnection, make_admin
from epd_connector.push_credentials import new_credential, render_file
from epd_connector.signing import generate_private_key, private_key_to_pem
from epd_devstack.databases import drop_database, sibling_dsn
from epd_devstack.kafka import ADMIN, KafkaCluster
from epd_devstack.procs import log_tail
from epd_gateway.tls import self_signed
from tests.conftest import REPO

STARTUP_S = 300  # 2 shared cores, six services and three brokers at once: generous, never a speed test
# faust creates its table's changelog at start (the corrections topic on its first correction, with
# the same config: tests/unit/intensity/test_intensity_replication.py).
FAUST_TOPICS = ("epd-intensity-intensity-state-changelog",)
FAUST_LEADER_TOPIC = "epd-intensity-__assignor-__leader"  # no data; faust declares it without topic config
JOBS = ("epd-migrate", "epd-kafka-provision")  # in this order, each to completion, before the services


def stand_ins(tmp_path, dsn: str, kafka: KafkaCluster) -> dict[tuple[str, str], dict[str, str]]:
    """Test values for what the overlays expect to be created outside git."""
    cert, key = self_signed(tmp_path / "tls")
    token = lambda: secrets.token_urlsafe(24)  # noqa: E731
    records = token()
    return {
        ("Secret", "epd-connector-secrets"): {"EPD_KAFKA_PASSWORD": kafka.password("epd-connector")},
        ("Secret", "epd-ingest-secrets"): {"EPD_PG_DSN": dsn, "EPD_KAFKA_PASSWORD": kafka.password("epd-ingest")},
        ("Secret", "epd-intensity-secrets"): {"EPD_KAFKA_PASSWORD": kafka.password("epd-intensity")},
        ("Secret", "epd-footprint-secrets"): {
            "EPD_PG_DSN": dsn,
            "EPD_FOOTPRINT_ADMIN_TOKEN": token(),
            "EPD_KAFKA_PASSWORD": kafka.password("epd-footprint"),
        },
        ("Secret", "epd-publisher-secrets"): {
            "EPD_PG_DSN": dsn,
            "EPD_RECORDS_KEY_SECRET": records,
            "EPD_PUBLISHER_SECRET_KEY": token(),
            "EPD_KAFKA_PASSWORD": kafka.password("epd-publisher"),
        },
        ("Secret", "epd-kafka-provision-secrets"): {"EPD_KAFKA_PASSWORD": kafka.password(ADMIN)},
        ("Secret", "epd-kafka-lag-exporter-secrets"): {"EPD_KAFKA_PASSWORD": kafka.password("epd-kafka-lag-exporter")},
        ("ConfigMap", "epd-kafka-ca"): {"ca.pem": kafka.ca.cert_file.read_text()},
        ("Secret", "epd-gateway-secrets"): {"EPD_PG_DSN": dsn, "EPD_RECORDS_KEY_SECRET": records},
        ("Secret", "epd-migrate-secrets"): {"EPD_PG_DSN": dsn},
        # the portal's read-only login (made by the devstack, granted epd_portal_reader by the migrations)
        ("Secret", "epd-portal-secrets"): {"EPD_PORTAL_PG_DSN": portal_dsn(dsn), "EPD_RECORDS_KEY_SECRET": records},
        ("Secret", "epd-connector-key"): {"plant-key.pem": private_key_to_pem(generate_private_key()).decode()},
        ("Secret", "epd-connector-push-credentials"): {"push-credentials.json": push_credentials()},
        ("Secret", "epd-connector-push-tls"): {"tls.crt": cert.read_text(), "tls.key": key.read_text()},
        ("Secret", "epd-gateway-tls"): {"tls.crt": cert.read_text(), "tls.key": key.read_text()},
        ("ConfigMap", "epd-connector-plant"): {
            "plant.yaml": (REPO / "services/connector/config/baotou-smelter.yaml").read_text()
        },
        ("ConfigMap", "epd-intensity-processes"): {"processes.yaml": (REPO / "deploy/demo/processes.yaml").read_text()},
    }


def portal_dsn(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"epd_portal:epd_portal@{parts.hostname}:{parts.port}"))


def push_credentials() -> str:
    """One plant credential, hashed as `epd connector push-credential add` stores it."""
    _, credential = new_credential("baotou-smelter", "plant historian")
    return render_file([credential]).decode()


def to_this_machine(env: dict[str, str], kafka: KafkaCluster, database_dsn: str) -> dict[str, str]:
    """Cluster addresses -> this machine's: the Kafka bootstrap, and the DSNs' host, port and database
    (their user and password stay what the manifest or the test secret says). The Kafka admin's password
    is the cluster's own (bootstrapped when its storage was formatted); every other principal keeps the
    password its Secret holds, which the provisioning Job set. EPD_KAFKA_CA_FILE stays the mounted file."""
    out = dict(env, EPD_KAFKA_BOOTSTRAP=kafka.bootstrap)
    if env.get("EPD_KAFKA_USERNAME") == ADMIN:
        out["EPD_KAFKA_PASSWORD"] = kafka.password(ADMIN)
    for name in ("EPD_PG_DSN", "EPD_PORTAL_PG_DSN"):
        if name in env:
            given, local = urlsplit(env[name]), urlsplit(database_dsn)
            credentials = given.netloc.rsplit("@", 1)[0]
            out[name] = urlunsplit(
                given._replace(netloc=f"{credentials}@{local.hostname}:{local.port}", path=local.path)
            )
    return out


async def empty_database(admin_dsn: str, name: str) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return sibling_dsn(admin_dsn, name)


async def delete_topics(kafka: KafkaConnection) -> None:
    """Each overlay starts on an empty cluster (the other overlay or the kill test left topics)."""
    admin = make_admin(kafka)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if not t.startswith("__")]
        if names:
            await admin.delete_topics(names)
        async with asyncio.timeout(120):
            while any(not t.startswith("__") for t in await admin.list_topics()):  # noqa: ASYNC110 - polled
                await asyncio.sleep(0.5)
    finally:
        await admin.close()


class Pod:
    def __init__(
        self, name: str, workload: dict, objects: Objects, tmp_path, kafka: KafkaCluster, dsn: str, links: dict
    ):
        self.name, self.pod = name, workload["pod"]
        (self.container,) = self.pod["containers"]
        env = container_env(self.container, objects)
        if self.pod.get("enableServiceLinks", True):
            env = {**links, **env}
        self.env = to_this_machine(env, kafka, dsn)
        self.objects, self.workdir = objects, tmp_path / name
        self.workdir.mkdir()
        self.sandbox: Sandbox | None = None
        self.proc: subprocess.Popen | None = None

    async def start(self, ports: list[int]) -> None:
        self.sandbox = Sandbox()
        for port in ports:
            await self.sandbox.forward(port)
        self.proc = start(self.sandbox, self.pod, self.container, self.env, self.objects, self.workdir)

    def log(self) -> str:
        return f"--- {self.name} ({self.workdir / 'command.sh'}):\n{log_tail(self.workdir / 'process.log', 40)}"

    async def probes_answer(self, deadline: float) -> None:
        assert self.sandbox is not None and self.proc is not None
        failures: list[str] = []
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited ({self.proc.returncode})\n{self.log()}"
            failures = [
                f
                for kind in ("readinessProbe", "livenessProbe")
                if (f := await probe(self.sandbox, self.container, kind))
            ]
            if not failures:
                return
            await asyncio.sleep(1)
        raise AssertionError(f"{self.name}: probes still fail after {STARTUP_S} s: {failures}\n{self.log()}")

    async def close(self) -> None:
        if self.proc is not None:
            await asyncio.to_thread(stop, self.proc)
        if self.sandbox is not None:
            await self.sandbox.close()


async def topic_facts(kafka: KafkaConnection) -> dict[str, tuple[set[int], str | None]]:
    admin = make_admin(kafka)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if not t.startswith("__")]
        meta = {t["topic"]: {len(p["replicas"]) for p in t["partitions"]} for t in await admin.describe_topics(names)}
        out: dict[str, tuple[set[int], str | None]] = {n: (meta[n], None) for n in names}
        for response in await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names]):
            for resource in response.to_object()["resources"]:
                for entry in resource["config_entries"]:
                    if entry["config_names"] == "min.insync.replicas" and entry["config_source"] == 1:
                        out[resource["resource_name"]] = (meta[resource["resource_name"]], entry["config_value"])
        return out
    finally:
        await admin.close()


@pytest.mark.slow
@pytest.mark.timeout(3 * STARTUP_S)
@pytest.mark.parametrize("overlay", list(reversed(OVERLAYS)))  # production first
async def test_every_workload_runs_as_written_and_answers_its_probes(overlay, three_brokers, pg_dsn, tmp_path):
    docs = render(overlay)
    database = f"t_k8s_{uuid.uuid4().hex[:10]}"
    credentials = f"epd:{secrets.token_urlsafe(12)}"  # trust auth locally: any password, never the shipped one
    host = urlsplit(pg_dsn)
    dsn = urlunsplit(host._replace(netloc=f"{credentials}@{host.hostname}:{host.port}", path=f"/{database}"))
    objects = Objects(docs, stand_ins(tmp_path, dsn, three_brokers))
    links = service_links(list(by_kind(docs, "Service").values()))
    forwards = [urlsplit(pg_dsn).port] + [n.broker_port for n in three_brokers.nodes]
    kafka = three_brokers
    admin = three_brokers.connection()
    await delete_topics(admin)  # the provisioning Job creates them again
    await empty_database(pg_dsn, database)
    pods: list[Pod] = []
    try:
        jobs = {n: w for n, w in workloads(docs).items() if w["object"]["kind"] == "Job"}
        assert set(jobs) == set(JOBS)
        for name in JOBS:
            job = Pod(name, jobs[name], objects, tmp_path, kafka, dsn, links)
            pods.append(job)
            await job.start(forwards)
            assert job.proc is not None
            code = await asyncio.wait_for(asyncio.to_thread(job.proc.wait), STARTUP_S)
            assert code == 0, f"the Job {name} failed\n{job.log()}"
        await each_service_logs_in_with_its_secret(objects, three_brokers)

        # The lag exporter's image is not this workspace's: its principal's login is checked above only.
        exporters = {f"epd-{e}" for e in EXPORTERS}
        deployments = {n: w for n, w in workloads(docs).items() if w["object"]["kind"] != "Job" and n not in exporters}
        assert set(deployments) == {f"epd-{s}" for s in SERVICES}
        for name, workload in deployments.items():
            pods.append(Pod(name, workload, objects, tmp_path, kafka, dsn, links))
            await pods[-1].start(forwards)
        deadline = time.monotonic() + STARTUP_S
        services = [p for p in pods if p.name not in JOBS]
        await asyncio.gather(*(p.probes_answer(deadline) for p in services))

        if overlay == "production":
            async with asyncio.timeout(STARTUP_S):  # faust declares its topics as the worker starts
                while not set(FAUST_TOPICS) <= set(facts := await topic_facts(admin)):  # noqa: ASYNC110
                    await asyncio.sleep(1)
            assert {"epd.telemetry.raw.v1", "epd.footprint.changes.v1", *FAUST_TOPICS} <= set(facts)
            for topic, (replicas, min_insync) in facts.items():
                assert replicas == {3}, (topic, replicas)
                assert min_insync == "2" or topic == FAUST_LEADER_TOPIC, (topic, min_insync)
        for pod in services:
            assert pod.proc is not None and pod.proc.poll() is None, f"{pod.name} exited\n{pod.log()}"
    finally:
        for pod in reversed(pods):
            await pod.close()
        await drop_database(pg_dsn, database)
        # The local overlay's Job set its development passwords: the cluster's own again for the other tests.
        await asyncio.to_thread(three_brokers.provision)


async def each_service_logs_in_with_its_secret(objects: Objects, cluster: KafkaCluster) -> None:
    """After the Job: every service principal has exactly the password its own Secret holds (a client
    with it gets metadata), and the admin's password is no service's."""
    for principal in kafka_access.SERVICES:
        password = objects.data("Secret", secret_name(objects, f"{principal}-secrets"))["EPD_KAFKA_PASSWORD"]
        assert password != cluster.password(ADMIN), principal
        admin = make_admin(cluster.connection().as_user(principal, password))
        await admin.start()  # raises on a wrong password (SASL authentication failed)
        await admin.close()


def secret_name(objects: Objects, name: str) -> str:
    """The rendered (hash-suffixed) name of a generated Secret, or the name of a stand-in."""
    for doc in objects.docs:
        if doc["kind"] == "Secret" and doc["metadata"]["name"].rsplit("-", 1)[0] == name:
            return doc["metadata"]["name"]
    return name
