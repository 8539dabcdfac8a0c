"""The local stack as a whole: what `make stack-up` / `make stack-down` drive."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from .kafka import REPO, KafkaCluster
from .local_ca import LocalCA
from .mosquitto import Mosquitto
from .postgres import Postgres
from .procs import StartupError, stop_pid_file
from .prometheus import Prometheus

RUN = pathlib.Path(os.environ.get("EPD_RUN_DIR", REPO / ".run"))


def kafka_port(brokers: int) -> int:
    """The first broker's port. The three-broker cluster (failure tests, `make stack-up BROKERS=3`) has
    ports of its own, so it runs beside the one-broker stack: node i on port + 100*i, controller + 1."""
    if brokers == 1:
        return int(os.environ.get("EPD_KAFKA_PORT", "19092"))
    return int(os.environ.get("EPD_KAFKA_CLUSTER_PORT", "29092"))


def components(brokers: int = 1) -> dict:
    kafka_base = RUN / ("kafka/cluster" if brokers == 1 else f"kafka/cluster{brokers}")
    return {
        "kafka": KafkaCluster(
            kafka_base, nodes=brokers, broker_port=kafka_port(brokers), libs=RUN / "kafka" / "libs", ca=local_ca()
        ),
        "postgres": Postgres(RUN / "postgres", port=int(os.environ.get("EPD_PG_PORT", "55432"))),
        "mosquitto": Mosquitto(RUN / "mqtt", port=int(os.environ.get("EPD_MQTT_PORT", "18883")), ca=local_ca()),
    }


def local_ca() -> LocalCA:
    """The local stack's CA (.run/ca): every local TLS listener's certificate comes from it."""
    return LocalCA(RUN / "ca")


def migrate(dsn: str) -> None:
    """Apply database migrations with alembic (db/alembic.ini); a failure carries alembic's output."""
    env = dict(os.environ, EPD_PG_DSN=dsn)
    res = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(REPO / "db" / "alembic.ini"), "upgrade", "heads"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    if res.returncode != 0:
        if "Can't locate revision" in res.stderr + res.stdout:
            # Another checkout (a branch with newer revisions) migrated this shared local database:
            # leave it as it is; tests and the demo migrate databases of their own.
            print(f"note: {dsn.rsplit('@', 1)[-1]} has revisions this checkout does not know; not migrated")
            return
        raise StartupError(f"migrations failed for {dsn.rsplit('@', 1)[-1]}:\n{res.stderr[-3000:]}")


def up(brokers: int = 1) -> dict:
    comps = components(brokers)
    comps["postgres"].start()
    comps["mosquitto"].start()
    comps["kafka"].start()
    migrate(comps["postgres"].dsn)
    return comps


def down() -> None:
    for brokers in (1, 3):
        comps = components(brokers)
        comps["kafka"].stop()
    comps = components(1)
    prometheus().stop()
    comps["mosquitto"].stop()
    stop_pid_file(RUN / "mosquitto" / "mosquitto.pid")  # the anonymous broker of checkouts before TLS
    comps["postgres"].stop()


def prometheus() -> Prometheus:
    """Started by `make run` and the dashboard tests, not by `stack-up` (tests that need it start it)."""
    return Prometheus(RUN / "prometheus", port=int(os.environ.get("EPD_PROMETHEUS_PORT", "19090")))
