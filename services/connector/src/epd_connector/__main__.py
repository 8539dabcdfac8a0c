"""Composition root of the site connector: `python -m epd_connector`.

Settings from the environment (EPD_* shared, EPD_CONNECTOR_* own; see .env.example). SIGTERM/SIGINT:
sources stop, the open batch is flushed to the spool, the sender gets a short grace period to drain;
whatever is unsent stays in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pydantic import Field

from epd_common.kafka import make_producer
from epd_common.lifecycle import run_until_signalled
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_common.settings import ServiceSettings
from epd_connector.config import ConfigError, load_plant_config
from epd_connector.runtime import ConnectorRuntime
from epd_connector.sender import Sender
from epd_connector.signing import load_private_key
from epd_connector.spool import Spool

log = logging.getLogger("epd_connector")
SOURCES = ("opcua", "mqtt", "http", "files")


class ConnectorSettings(ServiceSettings):
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_CONNECTOR_METRICS_PORT")
    plant_config: Path = Field(validation_alias="EPD_CONNECTOR_PLANT_CONFIG")
    key_file: Path = Field(validation_alias="EPD_CONNECTOR_KEY_FILE")
    sources: str = Field(default="http", pattern=r"^[a-z,]*$", validation_alias="EPD_CONNECTOR_SOURCES")
    # Overrides of the plant YAML's spool section (one spool file per plant inside the directory).
    spool_dir: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_SPOOL_DIR")
    spool_max_bytes: int | None = Field(default=None, ge=1024, validation_alias="EPD_CONNECTOR_SPOOL_MAX_BYTES")
    http_host: str = Field(default="127.0.0.1", validation_alias="EPD_CONNECTOR_HTTP_HOST")
    http_port: int = Field(default=8081, ge=0, le=65535, validation_alias="EPD_CONNECTOR_HTTP_PORT")
    http_max_bytes: int = Field(default=1_048_576, ge=1024, validation_alias="EPD_CONNECTOR_HTTP_MAX_BYTES")
    mqtt_host: str = Field(default="127.0.0.1", validation_alias="EPD_CONNECTOR_MQTT_HOST")
    mqtt_port: int = Field(default=11883, ge=1, le=65535, validation_alias="EPD_CONNECTOR_MQTT_PORT")
    opcua_url: str = Field(default="opc.tcp://127.0.0.1:4840/epd/", validation_alias="EPD_CONNECTOR_OPCUA_URL")
    files_path: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_FILES_PATH")
    files_state: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_FILES_STATE")
    files_rows_per_second: float = Field(default=0.0, ge=0, validation_alias="EPD_CONNECTOR_FILES_ROWS_PER_SECOND")
    files_checkpoint_rows: int = Field(default=50, ge=1, validation_alias="EPD_CONNECTOR_FILES_CHECKPOINT_ROWS")
    files_progress: bool = Field(default=False, validation_alias="EPD_CONNECTOR_FILES_PROGRESS")
    # Exit once the file replay is done and the spool is empty (backfill jobs).
    exit_when_drained: bool = Field(default=False, validation_alias="EPD_CONNECTOR_EXIT_WHEN_DRAINED")

    def source_list(self) -> list[str]:
        chosen = [s for s in self.sources.split(",") if s]
        unknown = [s for s in chosen if s not in SOURCES]
        if unknown:
            raise ConfigError(f"EPD_CONNECTOR_SOURCES: unknown source(s) {unknown}; choose from {SOURCES}")
        return chosen


def build_runtime(settings: ConnectorSettings) -> ConnectorRuntime:
    plant = load_plant_config(settings.plant_config)
    key = load_private_key(settings.key_file.read_bytes())
    spool_path = Path(plant.spool.path)
    if settings.spool_dir is not None:
        settings.spool_dir.mkdir(parents=True, exist_ok=True)
        spool_path = settings.spool_dir / f"{plant.plant_id.replace('/', '_')}.spool.sqlite3"
    spool = Spool(spool_path, settings.spool_max_bytes or plant.spool.max_bytes)
    return ConnectorRuntime(plant, key, spool)


async def serve(settings: ConnectorSettings, stop: asyncio.Event, runtime: ConnectorRuntime | None = None) -> None:
    """Run the sources and the sender until `stop` (tests call this in-process)."""
    sources = settings.source_list()
    rt = runtime or build_runtime(settings)
    source_stop = asyncio.Event()
    sender_stop = asyncio.Event()
    tasks: list[asyncio.Task] = [asyncio.create_task(rt.run_timer(source_stop))]
    sender = Sender(
        rt, lambda: make_producer(settings.kafka_bootstrap, retry_backoff_ms=200), prefix=settings.topic_prefix
    )
    sender_task = asyncio.create_task(sender.run(sender_stop))
    replay_task = None
    server = None
    if "http" in sources:
        import uvicorn

        from epd_connector.sources.http_push import make_app

        server = uvicorn.Server(
            uvicorn.Config(
                make_app(rt, settings.http_max_bytes),
                host=settings.http_host,
                port=settings.http_port,
                log_level="warning",
                lifespan="off",
            )
        )
        tasks.append(asyncio.create_task(server.serve()))
    if "mqtt" in sources:
        from epd_connector.sources.mqtt import MqttSource

        tasks.append(asyncio.create_task(MqttSource(rt, settings.mqtt_host, settings.mqtt_port).run(source_stop)))
    if "opcua" in sources:
        from epd_connector.sources.opcua import OpcUaSource

        tasks.append(asyncio.create_task(OpcUaSource(rt, settings.opcua_url).run(source_stop)))
    if "files" in sources:
        from epd_connector.sources.files import CsvReplay

        if settings.files_path is None:
            raise ConfigError("EPD_CONNECTOR_FILES_PATH is required with the files source")
        state = settings.files_state or settings.files_path.with_name(settings.files_path.name + ".state.json")
        replay = CsvReplay(
            rt,
            settings.files_path,
            state,
            checkpoint_rows=settings.files_checkpoint_rows,
            rows_per_second=settings.files_rows_per_second,
            progress=settings.files_progress,
        )
        replay_task = asyncio.create_task(replay.run(source_stop))
    try:
        if settings.exit_when_drained and replay_task is not None:
            await replay_task
            # The spool is sqlite on the spool thread, emptied by the sender: polled, no event says "empty".
            while await rt.spool_call(rt.spool.depth) and not stop.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        else:
            await stop.wait()
    finally:
        source_stop.set()
        if server is not None:
            server.should_exit = True
        await asyncio.gather(*tasks, *([replay_task] if replay_task else []), return_exceptions=True)
        await rt.flush()
        try:
            await asyncio.wait_for(_drained(rt), 5.0)
        except TimeoutError:
            log.warning(
                "stopping with %d batches spooled; they are sent on the next start", await rt.spool_call(rt.spool.depth)
            )
        sender_stop.set()
        await sender_task
        if runtime is None:
            rt.close()


async def _drained(rt: ConnectorRuntime) -> None:
    while await rt.spool_call(rt.spool.depth):  # noqa: ASYNC110 - the spool is polled (see serve)
        await asyncio.sleep(0.1)


def main() -> None:
    settings = ConnectorSettings()
    configure_logging(settings.log_level, settings.log_json, service="connector")
    start_metrics_server(settings.metrics_port)

    run_until_signalled(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
