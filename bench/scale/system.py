"""The scale scenario's own system: a secured three-broker KRaft cluster in its own run directory and
ports (never the shared stack's), a fresh database on the shared PostgreSQL, topics with 12 partitions
and replication 3, the services' principals from `epd kafka grant-services`, and the services as
processes (ingest and intensity as several), started the way the demo starts them."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import secrets
import signal
import time

from epd_common.kafka import ensure_topics
from epd_common.topics import (
    INTENSITY_CORRECTIONS,
    INTENSITY_WINDOWS,
    TELEMETRY_RAW,
    TELEMETRY_READINGS,
    TELEMETRY_REJECTED,
    Replication,
    TopicSpec,
)
from epd_devstack import stack
from epd_devstack.databases import create_migrated_database, drop_database
from epd_devstack.demo import seed as seeding
from epd_devstack.demo.services import ServiceGroup, ServiceSpec, env_defaults, epd, python_module, run_cli
from epd_devstack.kafka import KafkaCluster, free_cluster_port
from epd_devstack.procs import free_port

HERE = pathlib.Path(__file__).resolve().parent
REPLICATION = Replication(factor=3, min_insync=2)
INTENSITY_APP_ID = "epd-intensity"  # EPD_INTENSITY_APP_ID's default: its changelog topic is named after it
#: The pipeline's topics, keyed by plant (raw, readings, rejected) or process (windows), made with
#: this many partitions before the services start; the rest keep the registry's counts.
SCALED = (TELEMETRY_RAW, TELEMETRY_READINGS, TELEMETRY_REJECTED, INTENSITY_WINDOWS)


@dataclasses.dataclass
class Options:
    run_dir: pathlib.Path
    partitions: int = 12
    database: str = "epd_bench_scale"
    heap: str = "512m"


class ScaleSystem:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.run_dir = opts.run_dir
        self.prefix = f"scale{int(time.time())}."
        self.group = ServiceGroup(self.run_dir)
        self.kafka = KafkaCluster(
            self.run_dir / "kafka",
            nodes=3,
            broker_port=free_cluster_port(),
            libs=stack.RUN / "kafka" / "libs",
            heap=opts.heap,
            ca=stack.local_ca(),
        )
        main_dsn = stack.components(1)["postgres"].dsn
        self._main_dsn = main_dsn
        self.dsn = main_dsn.rsplit("/", 1)[0] + f"/{opts.database}"
        self.admin_token = secrets.token_urlsafe(24)
        self.receiver_secret = "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")
        base = env_defaults()
        admin_port = free_port()
        self.env = {
            **base,
            "EPD_PG_DSN": self.dsn,
            "EPD_TOPIC_PREFIX": self.prefix,
            "EPD_LOG_JSON": "true",
            "EPD_KAFKA_REPLICATION_FACTOR": str(REPLICATION.factor),
            "EPD_KAFKA_MIN_INSYNC_REPLICAS": str(REPLICATION.min_insync),
            "EPD_FOOTPRINT_ADMIN_TOKEN": self.admin_token,
            "EPD_FOOTPRINT_ADMIN_PORT": str(admin_port),
            "EPD_FOOTPRINT_ADMIN_URL": f"http://127.0.0.1:{admin_port}",
            "EPD_FOOTPRINT_METRICS_PORT": str(free_port()),
            "EPD_PUBLISHER_METRICS_PORT": str(free_port()),
        }
        self.receiver_port = free_port()
        self.workers: dict[str, list[str]] = {"ingest": [], "intensity": []}
        self.specs: dict[str, ServiceSpec] = {}
        self.processes_file = self.run_dir / "processes.yaml"

    # --- infrastructure -----------------------------------------------------------------------

    def start_cluster(self) -> None:
        self.kafka.start(timeout=300)

    def topic_specs(self) -> list[TopicSpec]:
        return [dataclasses.replace(s, partitions=self.opts.partitions) for s in SCALED]

    async def make_topics(self) -> None:
        """The scaled topics, and the intensity worker's own (changelog, corrections) co-partitioned with
        its readings, before `grant-services` makes the rest with the registry's counts."""
        admin = self.kafka.connection()
        await ensure_topics(admin, self.topic_specs(), replication=REPLICATION, prefix=self.prefix)
        own = [
            TopicSpec(INTENSITY_CORRECTIONS, TELEMETRY_READINGS.message_type, "plant_id", self.opts.partitions),
            TopicSpec(
                f"{INTENSITY_APP_ID}-intensity-state-changelog",
                TELEMETRY_READINGS.message_type,
                "plant_id",
                self.opts.partitions,
                extra_config={"cleanup.policy": "compact"},
            ),
        ]
        await ensure_topics(admin, own, replication=REPLICATION, prefix=self.prefix)

    def provision(self) -> None:
        asyncio.run(drop_database(self._main_dsn, self.opts.database))
        asyncio.run(create_migrated_database(self._main_dsn, self.opts.database))
        asyncio.run(self.make_topics())
        run_cli(
            epd("kafka", "grant-services", "--password-dir", str(self.kafka.base / "users")),
            {**self.env, **self.kafka.env()},
        )

    # --- services ---------------------------------------------------------------------------

    def start_front(self) -> None:
        """The partner endpoint, the footprint service (seeding talks to its admin API) and the publisher."""
        self.group.start(
            ServiceSpec(
                "partner",
                python_module("bench.scale.partner"),
                {
                    "EPD_SCALE_PARTNER_PORT": str(self.receiver_port),
                    "EPD_SCALE_PARTNER_LOG": str(self.run_dir / "partner-deliveries.jsonl"),
                    "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                },
                ready_port=self.receiver_port,
            )
        )
        e = self.env
        self.group.start(
            ServiceSpec(
                "footprint",
                python_module("epd_footprint"),
                {**e, **self.kafka.env("epd-footprint"), "EPD_FOOTPRINT_WINDOW_SIZES": "HOURLY"},
                ready_port=int(e["EPD_FOOTPRINT_ADMIN_PORT"]),
            ),
            timeout=120,
        )

    def seed(self) -> seeding.SeedResult:
        return seeding.seed(
            self.env,
            self.run_dir / "keys",
            self.env["EPD_FOOTPRINT_ADMIN_URL"],
            self.admin_token,
            f"http://127.0.0.1:{self.receiver_port}/webhooks",
            self.receiver_secret,
        )

    def start_publisher(self) -> None:
        self.group.start(
            ServiceSpec(
                "publisher",
                python_module("epd_publisher"),
                {**self.env, **self.kafka.env("epd-publisher")},
                ready_port=int(self.env["EPD_PUBLISHER_METRICS_PORT"]),
            ),
            timeout=120,
        )

    def add_ingest(self) -> str:
        name = f"ingest-{len(self.workers['ingest']) + 1}"
        self._start(
            ServiceSpec(
                name,
                python_module("epd_ingest"),
                {
                    **self.env,
                    **self.kafka.env("epd-ingest"),
                    "EPD_INGEST_REGISTRY_REFRESH_SECONDS": "30",
                    "EPD_INGEST_METRICS_PORT": str(port := free_port()),
                },
                ready_port=port,
            )
        )
        self.workers["ingest"].append(name)
        return name

    def intensity_spec(self, name: str) -> ServiceSpec:
        port = free_port()
        return ServiceSpec(
            name,
            python_module("epd_intensity"),
            {
                **self.env,
                **self.kafka.env("epd-intensity"),
                "EPD_INTENSITY_PROCESS_CONFIG": str(self.processes_file),
                "EPD_INTENSITY_ALLOWED_LATENESS_S": "600",
                "EPD_INTENSITY_DATA_DIR": str(self.run_dir / name),
                "EPD_INTENSITY_WEB_PORT": str(free_port()),
                "EPD_INTENSITY_METRICS_PORT": str(port),
            },
            ready_port=port,
        )

    def add_intensity(self) -> str:
        name = f"intensity-{len(self.workers['intensity']) + 1}"
        self._start(self.intensity_spec(name))
        self.workers["intensity"].append(name)
        return name

    def kill(self, name: str) -> None:
        """SIGKILL a service process (a crashed pod); `restart` starts it again under the same name."""
        proc = self.group.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def _start(self, spec: ServiceSpec) -> None:
        self.specs[spec.name] = spec
        self.group.start(spec, timeout=180)

    def restart(self, name: str) -> None:
        """Start a killed worker again (or stop a wedged one first, after it logged where its tasks
        wait: SIGUSR1, epd_common.lifecycle), as its orchestrator would."""
        if self.group.procs[name].poll() is None:
            os.kill(self.group.procs[name].pid, signal.SIGUSR1)
            time.sleep(2)
            self.group.stop([name])
        self._start(self.specs[name])

    def pids(self) -> dict[str, int]:
        out = {n: p.pid for n, p in self.group.procs.items() if p.poll() is None}
        for node in self.kafka.running_nodes():
            pid = int(node.pid_file.read_text())
            out[f"kafka-{node.node_id}"] = pid
        return out

    def dead(self) -> list[str]:
        return self.group.check_alive()

    def stop(self) -> None:
        self.group.stop()
        for node in self.kafka.nodes:  # its data is thrown away: SIGKILL (a clean stop takes a minute)
            self.kafka.stop_node(node, kill=True)
