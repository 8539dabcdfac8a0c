"""Apache Kafka 4.x in KRaft mode from Maven Central jars (deploy/kafka/pom.xml), on loopback.

One node runs broker and controller together (`--standalone` format). The three-node variant uses
static `controller.quorum.voters` and is meant for failure tests (stop one broker, keep producing).

Secured like a production cluster: clients and brokers speak SASL_SSL with SCRAM-SHA-512 (a server
certificate of the local CA), controllers SASL_SSL with PLAIN (KRaft cannot use SCRAM there), and the
StandardAuthorizer denies whatever no ACL allows. The programme's admin principal `epd-admin` (a super
user, bootstrapped into the metadata at format time) creates the service principals and their grants
(`epd_common.kafka_access`); every password is random, in `<base>/users/<name>.password`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import pathlib
import random
import shutil
import socket
import subprocess
import uuid
from typing import TYPE_CHECKING

from .local_ca import LocalCA
from .procs import StartupError, log_tail, port_open, read_pid, spawn, stop_pid_file, wait_until

if TYPE_CHECKING:
    from epd_common.kafka import KafkaConnection

REPO = pathlib.Path(__file__).resolve().parents[4]
POM = REPO / "deploy" / "kafka" / "pom.xml"
LOG4J = REPO / "deploy" / "kafka" / "log4j2.properties"


ADMIN = "epd-admin"  # the programme's Kafka admin: a super user, for provisioning only
CONTROLLER = "epd-controller"  # brokers and controllers among themselves on the controller listener


def java_bin() -> str:
    """Kafka 4 needs Java 17+; prefer JAVA_HOME, then the Debian JDK 17."""
    home = os.environ.get("JAVA_HOME")
    if home and (pathlib.Path(home) / "bin" / "java").exists():
        return str(pathlib.Path(home) / "bin" / "java")
    for cand in ("/usr/lib/jvm/java-17-openjdk-amd64/bin/java", shutil.which("java")):
        if cand and pathlib.Path(cand).exists():
            return cand
    raise StartupError("no java found: install openjdk-17-jre-headless")


def ensure_jars(libs: pathlib.Path) -> None:
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StartupError("maven (mvn) is missing: apt-get install maven")
    libs.mkdir(parents=True, exist_ok=True)
    subprocess.run([mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-Dlibs.dir={libs}"], check=True)


def new_cluster_id() -> str:
    """A random KRaft cluster id (URL-safe base64 of 16 bytes) that does not start with '-':
    kafka-storage's argument parser takes such an id for an option (one draw in 64 did)."""
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return cluster_id


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port(nodes: int = 3) -> int:
    """A random base port p whose layout (p + 100 i and p + 100 i + 1 per node, as KafkaCluster gives
    them) is free: for clusters started beside the stack (failure tests, the scale scenario)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(30000, 60000)
        if all(_port_free(base + 100 * i + j) for i in range(nodes) for j in range(2)):
            return base
    raise RuntimeError(f"no free ports for a {nodes}-broker cluster")


@dataclasses.dataclass
class KafkaNode:
    node_id: int
    broker_port: int
    controller_port: int
    base: pathlib.Path

    @property
    def dir(self) -> pathlib.Path:
        return self.base / f"node{self.node_id}"

    @property
    def pid_file(self) -> pathlib.Path:
        return self.dir / "kafka.pid"

    @property
    def log_file(self) -> pathlib.Path:
        return self.dir / "server.log"


class KafkaCluster:
    def __init__(
        self,
        base: pathlib.Path,
        nodes: int = 1,
        broker_port: int = 19092,
        libs: pathlib.Path | None = None,
        heap: str = "512m",
        properties: dict[str, str] | None = None,
        ca: LocalCA | None = None,
    ) -> None:
        self.base = base
        self.ca = ca or LocalCA(base / "ca")
        # Broker settings that replace (or add to) the defaults below, e.g. for a test that needs
        # auto.create.topics.enable=false.
        self.properties = dict(properties or {})
        # The jars are shared by every cluster of a checkout (EPD_RUN_DIR: a worktree uses its main checkout's).
        self.libs = libs or (pathlib.Path(os.environ.get("EPD_RUN_DIR", REPO / ".run")) / "kafka" / "libs")
        self.heap = heap
        # Ports: node i listens on broker_port + 100*i (broker) and +1 (controller).
        self.nodes = [KafkaNode(i + 1, broker_port + 100 * i, broker_port + 100 * i + 1, base) for i in range(nodes)]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.broker_port}" for n in self.nodes)

    # --- principals -------------------------------------------------------------------------

    def password(self, name: str) -> str:
        """The password of principal `name` on this cluster (created at first use, mode 0600): the files
        `epd kafka grant-services --password-dir <base>/users` reads."""
        from epd_common.kafka_access import password_file

        return password_file(self.base / "users" / f"{name}.password")

    def connection(self, name: str = ADMIN) -> KafkaConnection:
        """A client connection as principal `name` (default: the admin super user)."""
        from epd_common.kafka import KafkaConnection

        return KafkaConnection(self.bootstrap, "SASL_SSL", name, self.password(name), str(self.ca.cert_file))

    def env(self, name: str = ADMIN) -> dict[str, str]:
        """The EPD_KAFKA_* environment of a process connecting as `name`."""
        return self.connection(name).env()

    def provision(self, prefix: str = "") -> None:
        """Create the topics under `prefix`, every service principal (its password from `password`) and
        its grants for them: what `epd kafka grant-services` does on a cluster of the programme."""
        from epd_common import kafka_access
        from epd_common.kafka import ensure_topics
        from epd_common.topics import Replication

        replication = Replication(min(3, len(self.nodes)), min(2, len(self.nodes)))

        async def apply() -> None:
            await ensure_topics(self.connection(), replication=replication, prefix=prefix)
            async with kafka_access.KafkaAccess(self.connection()) as access:
                for service in kafka_access.SERVICES:
                    await access.set_password(service, self.password(service))
                    await access.grant(kafka_access.service_grants(service, prefix))

        asyncio.run(apply())

    def _tls(self) -> tuple[pathlib.Path, str]:
        """The brokers' keystore (PKCS#12: key and certificate of the local CA) and its password."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        issued = self.ca.ensure().issue_server(self.base / "tls", "kafka-broker", ["127.0.0.1", "localhost"])
        keystore = self.base / "tls" / "kafka-broker.p12"
        password = self.password("keystore")
        if not keystore.exists() or keystore.stat().st_mtime < issued.cert.stat().st_mtime:
            key = serialization.load_pem_private_key(issued.key.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
            data = pkcs12.serialize_key_and_certificates(
                b"kafka-broker",
                key,  # type: ignore[arg-type]
                cert,
                [x509.load_pem_x509_certificate(self.ca.cert_file.read_bytes())],
                serialization.BestAvailableEncryption(password.encode()),
            )
            keystore.write_bytes(data)
            keystore.chmod(0o600)
        return keystore, password

    def _security(self) -> list[str]:
        keystore, store_password = self._tls()
        admin, controller = self.password(ADMIN), self.password(CONTROLLER)
        return [
            "listener.security.protocol.map=CONTROLLER:SASL_SSL,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name=SASL_SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram."
            f'ScramLoginModule required username="{ADMIN}" password="{admin}";',
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain."
            f'PlainLoginModule required username="{CONTROLLER}" password="{controller}"'
            f' user_{CONTROLLER}="{controller}";',
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={keystore}",
            f"ssl.keystore.password={store_password}",
            f"ssl.key.password={store_password}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.ca.cert_file}",
            "ssl.client.auth=none",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{ADMIN};User:{CONTROLLER}",
        ]

    def _properties(self, node: KafkaNode) -> str:
        single = len(self.nodes) == 1
        rf = min(3, len(self.nodes))
        lines = [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"listeners=SASL_SSL://127.0.0.1:{node.broker_port},CONTROLLER://127.0.0.1:{node.controller_port}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{node.broker_port}",
            "controller.listener.names=CONTROLLER",
            *self._security(),
            f"log.dirs={node.dir / 'data'}",
            f"offsets.topic.replication.factor={rf}",
            "offsets.topic.num.partitions=6",
            f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={min(2, rf)}",
            "transaction.state.log.num.partitions=6",
            f"share.coordinator.state.topic.replication.factor={rf}",
            f"share.coordinator.state.topic.min.isr={min(2, rf)}",
            f"default.replication.factor={rf}",
            f"min.insync.replicas={min(2, rf)}",
            "group.initial.rebalance.delay.ms=0",
            "num.partitions=3",
            "auto.create.topics.enable=true",
            "log.segment.bytes=16777216",
            "log.retention.check.interval.ms=60000",
        ]
        if single:
            lines.append(f"controller.quorum.bootstrap.servers=127.0.0.1:{node.controller_port}")
        else:
            voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
            lines.append(f"controller.quorum.voters={voters}")
        lines = [line for line in lines if line.split("=", 1)[0] not in self.properties]
        lines += [f"{key}={value}" for key, value in self.properties.items()]
        return "\n".join(lines) + "\n"

    def _format(self, node: KafkaNode, cluster_id: str) -> None:
        node.dir.mkdir(parents=True, exist_ok=True)
        props = node.dir / "server.properties"
        props.write_text(self._properties(node))
        props.chmod(0o600)  # it holds the admin's and the keystore's passwords
        marker = node.dir / "data" / "secured"
        if (node.dir / "data" / "meta.properties").exists():
            if marker.exists():
                return
            # Formatted by a checkout before Kafka was secured: no admin principal in its metadata. The
            # local stack's topics are scratch data; start over.
            shutil.rmtree(node.dir / "data")
        mode = ["--standalone"] if len(self.nodes) == 1 else []
        cmd = [
            java_bin(),
            "-cp",
            f"{self.libs}/*",
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={node.dir}",
            "kafka.tools.StorageTool",
            "format",
            *mode,
            "-t",
            cluster_id,
            "-c",
            str(props),
            "--add-scram",
            f"SCRAM-SHA-512=[name={ADMIN},password={self.password(ADMIN)}]",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise StartupError(f"kafka storage format failed:\n{res.stdout}\n{res.stderr}")
        marker.write_text("SASL_SSL SCRAM-SHA-512, StandardAuthorizer\n")

    def start_node(self, node: KafkaNode) -> subprocess.Popen | None:
        if read_pid(node.pid_file) is not None:
            return None
        env = dict(os.environ, LOG_DIR=str(node.dir))
        cmd = [
            java_bin(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={node.dir}",
            "-cp",
            f"{self.libs}/*",
            "kafka.Kafka",
            str(node.dir / "server.properties"),
        ]
        return spawn(cmd, node.log_file, node.pid_file, env=env)

    def start(self, timeout: float = 90.0) -> None:
        ensure_jars(self.libs)
        id_file = self.base / "cluster.id"
        self.base.mkdir(parents=True, exist_ok=True)
        if not id_file.exists():
            id_file.write_text(new_cluster_id())
        cluster_id = id_file.read_text().strip()
        procs = []
        for node in self.nodes:
            if read_pid(node.pid_file) is not None and not (node.dir / "data" / "secured").exists():
                self.stop_node(node)  # still the plaintext broker of a checkout before Kafka was secured
            self._format(node, cluster_id)
            procs.append((node, self.start_node(node)))
        for node, proc in procs:
            wait_until(
                lambda n=node: port_open("127.0.0.1", n.broker_port),
                timeout=timeout,
                proc=proc,
                what=f"kafka node {node.node_id}",
                log_file=node.log_file,
            )
        self.wait_for_metadata(timeout)
        self.provision()

    def wait_for_metadata(self, timeout: float = 60.0) -> None:
        """Ready means a client gets cluster metadata listing every broker."""
        from epd_common.kafka import make_admin

        async def probe() -> bool:
            admin = make_admin(self.connection(), request_timeout_ms=5000)
            try:
                await admin.start()
                cluster = await admin.describe_cluster()
                return len(cluster.get("brokers", [])) >= len(self.running_nodes())
            except Exception:
                return False
            finally:
                await admin.close()

        node = self.nodes[0]
        wait_until(
            lambda: asyncio.run(probe()),
            timeout=timeout,
            proc=None,
            what="kafka metadata",
            log_file=node.log_file,
            interval=0.5,
        )

    def running_nodes(self) -> list[KafkaNode]:
        return [n for n in self.nodes if read_pid(n.pid_file) is not None]

    def stop_node(self, node: KafkaNode, kill: bool = False) -> None:
        import signal

        stop_pid_file(node.pid_file, timeout=60, sig=signal.SIGKILL if kill else signal.SIGTERM)

    def stop(self) -> None:
        for node in self.nodes:
            self.stop_node(node)

    def describe(self) -> str:
        return f"kafka {self.bootstrap} ({len(self.running_nodes())}/{len(self.nodes)} nodes up; logs {self.base})"

    def tail(self) -> str:
        return "\n".join(log_tail(n.log_file, 30) for n in self.nodes)


async def delete_topics_with_prefixes(connection: KafkaConnection, prefixes: set[str], batch: int = 500) -> int:
    """Delete every topic whose name starts with one of `prefixes` (faust changelogs included: a
    worker's app id carries the topic prefix); returns how many were asked to go.

    Tests and benchmarks name their topics under prefixes of their own on the long-lived stack broker,
    so nothing is shared; without this nothing was removed either, and a development broker that ran
    the suite a few times held ~13,000 partitions until its 512 MiB heap ran out. Callers pass only
    the prefixes they handed out, so a session running beside them (or `make run`) keeps its topics."""
    if not prefixes:
        return 0
    from epd_common.kafka import make_admin

    admin = make_admin(connection)
    await admin.start()
    try:
        doomed = sorted(name for name in await admin.list_topics() if name.startswith(tuple(prefixes)))
        for start in range(0, len(doomed), batch):
            await admin.delete_topics(doomed[start : start + batch], timeout_ms=60_000)
    finally:
        await admin.close()
    return len(doomed)
