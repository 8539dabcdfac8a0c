"""The whole system with simulated plants, started in order, on a fresh demo database and topic prefix.

Simulated time runs ahead of real time (`speed`), so simulations start in the past and end near
now: ingest refuses readings from the future. The drift of the demo is injected at one plant.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import pathlib
import secrets
import subprocess
import time

from .. import stack
from ..databases import create_migrated_database, drop_database
from ..procs import free_port, port_open
from . import seed as seeding
from .services import ServiceGroup, ServiceSpec, env_defaults, epd, python_module, run_cli


@dataclasses.dataclass
class DemoOptions:
    speed: float = 240.0  # simulated seconds per real second
    duration: str = "12h"  # simulated span per plant, ending about now
    drift: tuple[str, ...] = ("roasting.electricity=+20%@4h",)  # applied at baotou-smelter
    drift_plant: str = "baotou-smelter"
    run_dir: pathlib.Path = stack.RUN / "demo"
    database: str = "epd_demo"
    topic_prefix: str = ""  # default: a fresh prefix per run
    prometheus: bool = True
    receiver_port: int = 8099
    bad_probability: float = 0.001


PORTS = {
    "ingest": 9106,
    "intensity": 9102,
    "footprint": 9103,
    "publisher": 9104,
    "gateway": 9105,
    "portal": 9107,
    "connector-baotou-mine": 9101,
    "connector-baotou-smelter": 9108,
    "connector-baotou-metals": 9109,
}


def _hours(span: str) -> float:
    unit = span[-1]
    return float(span[:-1]) * {"s": 1 / 3600, "m": 1 / 60, "h": 1, "d": 24}[unit]


class DemoSystem:
    def __init__(self, options: DemoOptions | None = None) -> None:
        self.opts = options or DemoOptions()
        self.run_dir = self.opts.run_dir
        self.group = ServiceGroup(self.run_dir)
        self.prefix = self.opts.topic_prefix or f"demo{int(time.time())}."
        self.receiver_secret = "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")
        self.admin_token = secrets.token_urlsafe(24)
        self.seeded: seeding.SeedResult | None = None
        self.simulators: list[subprocess.Popen] = []
        base = env_defaults()
        main_dsn = stack.components(1)["postgres"].dsn
        self.dsn = main_dsn.rsplit("/", 1)[0] + f"/{self.opts.database}"
        self.env = {
            **base,
            "EPD_PG_DSN": self.dsn,
            "EPD_TOPIC_PREFIX": self.prefix,
            "EPD_LOG_JSON": "true",
            "EPD_FOOTPRINT_ADMIN_TOKEN": self.admin_token,
            "EPD_FOOTPRINT_ADMIN_URL": f"http://127.0.0.1:{base['EPD_FOOTPRINT_ADMIN_PORT']}",
            # the portal reads the demo database as the read-only login (deploy/postgres/portal-roles.sql)
            "EPD_PORTAL_PG_DSN": base["EPD_PORTAL_PG_DSN"].rsplit("/", 1)[0] + f"/{self.opts.database}",
        }
        self._main_dsn = main_dsn
        # Each Kafka client below is its own principal with its grants; the admin only provisions.
        self.kafka = stack.components(1)["kafka"]

    # --- URLs shown to the operator
    @property
    def urls(self) -> dict[str, str]:
        e = self.env
        return {
            "portal (public registry)": e["EPD_PORTAL_PUBLIC_URL"],
            "gateway (PACT v3, HTTPS)": e["EPD_GATEWAY_PUBLIC_URL"] + "/3/footprints",
            "gateway API docs": e["EPD_GATEWAY_PUBLIC_URL"] + "/docs",
            "gateway JWKS": e["EPD_GATEWAY_PUBLIC_URL"] + "/.well-known/jwks.json",
            "footprint admin API docs": e["EPD_FOOTPRINT_ADMIN_URL"] + "/docs",
            "partner receiver": f"http://127.0.0.1:{self.opts.receiver_port}/deliveries",
            "metrics": ", ".join(f"{n}:{p}" for n, p in PORTS.items()),
            "prometheus": stack.prometheus().url if self.opts.prometheus else "(not started)",
        }

    def start(self, log=print) -> None:
        log("starting the local stack (Kafka, PostgreSQL, Mosquitto)")
        stack.up(1)
        if self.opts.prometheus:
            stack.prometheus().start()
        log(f"fresh database {self.opts.database}, topic prefix {self.prefix}")
        asyncio.run(self._fresh_database())
        log("Kafka: topics, service principals and their ACLs (epd kafka grant-services, as epd-admin)")
        run_cli(
            epd("kafka", "grant-services", "--password-dir", str(self.kafka.base / "users")),
            {**self.env, **self.kafka.env()},
        )
        self._start_services(log)
        log("seeding registry, products, EPDs and a partner")
        self.seeded = seeding.seed(
            self.env,
            self.run_dir / "keys",
            self.env["EPD_FOOTPRINT_ADMIN_URL"],
            self.admin_token,
            f"http://127.0.0.1:{self.opts.receiver_port}/webhooks",
            self.receiver_secret,
        )
        self._write_env_file()
        self._start_pipeline(log)
        self.start_simulators(log)

    @property
    def env_file(self) -> pathlib.Path:
        return self.run_dir / "env"

    def _write_env_file(self) -> None:
        """The demo's settings for operator commands: `set -a; . .run/demo/env; set +a; epd status`."""
        assert self.seeded is not None
        keys = (
            "EPD_ENVIRONMENT",
            "EPD_KAFKA_BOOTSTRAP",
            "EPD_PG_DSN",
            "EPD_TOPIC_PREFIX",
            "EPD_FOOTPRINT_ADMIN_URL",
            "EPD_FOOTPRINT_ADMIN_TOKEN",
            "EPD_PUBLISHER_SECRET_KEY",
            "EPD_RECORDS_KEY_SECRET",
        )
        lines = [f"{k}={self.env[k]}" for k in keys if k in self.env]
        # The operator's Kafka principal is the admin (`epd kafka grant-subscriber`, `epd feed tail`).
        lines += [f"{k}={v}" for k, v in self.kafka.env().items() if k != "EPD_KAFKA_BOOTSTRAP"]
        lines += [
            f"EPD_DEMO_GATEWAY_CLIENT_ID={self.seeded.client_id}",
            f"EPD_DEMO_GATEWAY_CLIENT_SECRET={self.seeded.client_secret}",
            f"EPD_DEMO_VERIFIER_KEY={self.seeded.verifier_key}",
        ]
        self.env_file.write_text("\n".join(lines) + "\n")
        self.env_file.chmod(0o600)

    async def _fresh_database(self) -> None:
        await drop_database(self._main_dsn, self.opts.database)
        await create_migrated_database(self._main_dsn, self.opts.database)

    def _start_services(self, log) -> None:
        """The footprint admin API (seeding talks to it), the partner receiver, publisher and gateway."""
        e = self.env
        self.group.start(
            ServiceSpec(
                "receiver",
                python_module("epd_devstack.demo.receiver"),
                {
                    "EPD_DEMO_RECEIVER_SECRET": self.receiver_secret,
                    "EPD_DEMO_RECEIVER_PORT": str(self.opts.receiver_port),
                    "EPD_DEMO_RECEIVER_LOG": str(self.run_dir / "partner-deliveries.jsonl"),
                },
            ),
        )
        self.group.start(
            ServiceSpec(
                "footprint",
                python_module("epd_footprint"),
                {**e, **self.kafka.env("epd-footprint"), "EPD_FOOTPRINT_WINDOW_SIZES": "HOURLY"},
                ready_port=int(e["EPD_FOOTPRINT_ADMIN_PORT"]),
            )
        )
        log("  footprint up")

    def _start_pipeline(self, log) -> None:
        e = self.env
        self.group.start(
            ServiceSpec(
                "publisher",
                python_module("epd_publisher"),
                {**e, **self.kafka.env("epd-publisher")},
                ready_port=int(e["EPD_PUBLISHER_METRICS_PORT"]),
            )
        )
        self.group.start(
            ServiceSpec(
                "gateway",
                python_module("epd_gateway"),
                {**e, "EPD_GATEWAY_TLS_DIR": str(self.run_dir / "tls")},
                ready_port=int(e["EPD_GATEWAY_HTTPS_PORT"]),
            )
        )
        # after the gateway, which makes the programme's first signing key (the portal only reads keys)
        self.group.start(
            ServiceSpec("portal", python_module("epd_portal"), e, ready_port=int(e["EPD_PORTAL_HTTP_PORT"]))
        )
        log(f"  portal up: {e['EPD_PORTAL_PUBLIC_URL']}")
        self.group.start(
            ServiceSpec(
                "ingest",
                python_module("epd_ingest"),
                {**e, **self.kafka.env("epd-ingest"), "EPD_INGEST_REGISTRY_REFRESH_SECONDS": "5"},
                ready_port=int(e["EPD_INGEST_METRICS_PORT"]),
            )
        )
        self.group.start(
            ServiceSpec(
                "intensity",
                python_module("epd_intensity"),
                {
                    **e,
                    **self.kafka.env("epd-intensity"),
                    "EPD_INTENSITY_PROCESS_CONFIG": str(seeding.DEMO / "processes.yaml"),
                    "EPD_INTENSITY_ALLOWED_LATENESS_S": "600",
                    "EPD_INTENSITY_DATA_DIR": str(self.run_dir / "intensity"),
                    # faust's own web server is not used by the demo: any free port keeps it out of the way.
                    "EPD_INTENSITY_WEB_PORT": str(free_port()),
                },
                ready_port=int(e["EPD_INTENSITY_METRICS_PORT"]),
            ),
            timeout=120,
        )
        mqtt = stack.components(1)["mosquitto"]
        for plant in seeding.PLANTS:
            name = f"connector-{plant}"
            self.group.start(
                ServiceSpec(
                    name,
                    python_module("epd_connector"),
                    {
                        **e,
                        **self.kafka.env("epd-connector"),
                        **mqtt.client_env(plant),  # the plant's broker user, over TLS
                        "EPD_CONNECTOR_PLANT_CONFIG": str(seeding.plant_config(plant)),
                        "EPD_CONNECTOR_KEY_FILE": str(self.run_dir / "keys" / f"{plant}.pem"),
                        "EPD_CONNECTOR_SOURCES": "mqtt",
                        "EPD_CONNECTOR_METRICS_PORT": str(PORTS[name]),
                        "EPD_CONNECTOR_SPOOL_DIR": str(self.run_dir / "spool"),
                    },
                    ready_port=PORTS[name],
                )
            )
        log("  publisher, gateway, portal, ingest, intensity and three plant connectors up")
        time.sleep(2)  # MQTT subscriptions settle before the simulators publish (clean sessions)

    def start_simulators(self, log) -> None:
        hours = _hours(self.opts.duration)
        # Start on a whole hour: a first window of a few minutes, where counters give no delta for
        # their first reading, would distort the first evaluation of every product.
        start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
        mqtt = stack.components(1)["mosquitto"]
        for i, plant in enumerate(seeding.PLANTS):
            args = [
                "simulate",
                "--plant",
                str(seeding.plant_config(plant)),
                "--to",
                "mqtt",
                "--duration",
                self.opts.duration,
                "--speed",
                str(self.opts.speed),
                "--seed",
                str(i + 1),
                "--start",
                start.isoformat(),
                "--bad-probability",
                str(self.opts.bad_probability),
                "--mqtt-port",
                str(mqtt.port),
                "--mqtt-username",
                plant,
                "--ca",
                str(mqtt.ca.cert_file),
            ]
            if plant == self.opts.drift_plant:
                for d in self.opts.drift:
                    args += ["--drift", d]
            log_file = self.run_dir / "logs" / f"simulator-{plant}.log"
            with open(log_file, "ab") as fh:
                self.simulators.append(
                    subprocess.Popen(
                        epd(*args),
                        stdout=fh,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, **self.env, "EPD_SIMULATE_MQTT_PASSWORD": mqtt.password(plant)},
                        cwd=seeding.REPO,
                    )
                )
        log(
            f"simulating {self.opts.duration} of three plants at {self.opts.speed:g}x"
            f" (drift {', '.join(self.opts.drift) or 'none'} at {self.opts.drift_plant})"
        )

    def simulators_done(self) -> bool:
        return all(p.poll() is not None for p in self.simulators)

    def stop(self) -> None:
        for p in self.simulators:
            if p.poll() is None:
                p.terminate()
        for p in self.simulators:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.group.stop()

    def all_up(self) -> list[str]:
        return [n for n, port in PORTS.items() if not port_open("127.0.0.1", port)]
