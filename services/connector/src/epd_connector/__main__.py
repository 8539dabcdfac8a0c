"""Composition root of the site connector: `python -m epd_connector`.

Settings from the environment (EPD_* shared, EPD_CONNECTOR_* own; see .env.example). SIGTERM/SIGINT:
sources stop, the open batch is flushed to the spool, the sender gets a short grace period to drain;
whatever is unsent stays in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import uvicorn

from epd_common.http_limits import coded_error
from epd_common.http_server import ServiceServer, json_errors, serve_until
from epd_common.kafka import make_producer
from epd_common.lifecycle import run_tasks, run_until_signalled
from epd_common.logs import configure_logging
from epd_common.metrics import start_metrics_server
from epd_connector.config import ConfigError, load_plant_config
from epd_connector.errors import ConnectorError
from epd_connector.keys import KeyFile
from epd_connector.runtime import ConnectorRuntime
from epd_connector.sender import Sender
from epd_connector.settings import ConnectorSettings
from epd_connector.spool import Spool

log = logging.getLogger("epd_connector")


def build_runtime(settings: ConnectorSettings) -> ConnectorRuntime:
    plant = load_plant_config(settings.plant_config)
    key = KeyFile(settings.key_file, plant.key_id)
    spool_path = Path(plant.spool.path)
    if settings.spool_dir is not None:
        settings.spool_dir.mkdir(parents=True, exist_ok=True)
        spool_path = settings.spool_dir / f"{plant.plant_id.replace('/', '_')}.spool.sqlite3"
    spool = Spool(spool_path, settings.spool_max_bytes or plant.spool.max_bytes)
    return ConnectorRuntime(plant, key, spool)


async def serve(settings: ConnectorSettings, stop: asyncio.Event, runtime: ConnectorRuntime | None = None) -> None:
    """Run the sources and the sender until `stop` or the first failure (tests call this in-process).

    Two phases. Running: the sources, the batch timer and the sender run under the shared
    first-failure loop (a source that crashes stops the connector, which its supervisor restarts).
    Stopping: the sources have ended; the open batch is flushed to the spool, the sender gets a
    short grace period to drain it, and whatever is left waits in the spool for the next start."""
    sources = settings.source_list()
    rt = runtime or build_runtime(settings)
    sender_stop = asyncio.Event()
    sender = Sender(rt, lambda: make_producer(settings.kafka, retry_backoff_ms=200), prefix=settings.topic_prefix)
    sender_task = asyncio.create_task(sender.run(sender_stop), name="sender")
    work: dict[str, Coroutine[Any, Any, None]] = {"batch-timer": rt.run_timer(stop), "sender": watch(sender_task, stop)}
    if "http" in sources:
        work["http"] = serve_until(ServiceServer(push_server_config(settings, rt)), stop)
    if "mqtt" in sources:
        from epd_connector.sources.mqtt import MqttSource

        work["mqtt"] = MqttSource(
            rt,
            settings.mqtt_host,
            settings.mqtt_port,
            username=settings.mqtt_username,
            password=settings.mqtt_password.get_secret_value(),
            tls=settings.mqtt_tls,
            ca_file=settings.mqtt_ca_file,
        ).run(stop)
    if "opcua" in sources:
        from epd_connector.sources.opcua import OpcUaSource

        work["opcua"] = OpcUaSource(rt, settings.opcua_url).run(stop)
    if "files" in sources:
        work["files"] = replay_files(settings, rt, stop)
    try:
        await run_tasks(work, stop)
    finally:
        await rt.flush()
        try:
            await asyncio.wait_for(_drained(rt), 5.0)
        except TimeoutError:
            log.warning(
                "stopping with %d batches spooled; they are sent on the next start", await rt.spool_call(rt.spool.depth)
            )
        sender_stop.set()
        await asyncio.gather(sender_task, return_exceptions=True)
        if runtime is None:
            rt.close()


def push_server_config(settings: ConnectorSettings, rt: ConnectorRuntime) -> uvicorn.Config:
    """The push listener: its authentication (push_auth.py) and, when configured, TLS (with client
    certificates required when a client CA is set: the handshake itself refuses other clients)."""
    from epd_connector.push_auth import PushAuthenticator
    from epd_connector.sources.http_push import make_app

    auth = None
    if "credential" in settings.http_auth:
        assert settings.http_credentials_file is not None  # ConnectorSettings checks it
        auth = PushAuthenticator(settings.http_credentials_file, rt.plant.plant_id)
    tls: dict[str, Any] = {}
    if settings.http_tls_cert_file is not None:
        tls = {"ssl_certfile": str(settings.http_tls_cert_file), "ssl_keyfile": str(settings.http_tls_key_file)}
        if settings.http_tls_client_ca_file is not None:
            tls |= {"ssl_ca_certs": str(settings.http_tls_client_ca_file), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return uvicorn.Config(
        make_app(rt, auth=auth, max_body_bytes=settings.http_max_bytes),
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        lifespan="off",
        http=json_errors(coded_error),  # HTTP-layer 400s (a NUL in a header) in the endpoint's {code, message}
        **tls,
    )


async def watch(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Fail when the sender fails while the connector runs; at `stop` it keeps running (it drains the
    spool in the stopping phase), so the watch ends there."""
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        task.result()  # re-raise the sender's failure
        if not stop.is_set():
            raise ConnectorError("the sender ended while the connector was running")


async def replay_files(settings: ConnectorSettings, rt: ConnectorRuntime, stop: asyncio.Event) -> None:
    """The CSV replay; afterwards the connector stops once the spool is empty (EPD_CONNECTOR_EXIT_WHEN_DRAINED)
    or goes on serving its other sources."""
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
    await replay.run(stop)
    if settings.exit_when_drained:
        # The spool is sqlite on the spool thread, emptied by the sender: polled, no event says "empty".
        while await rt.spool_call(rt.spool.depth) and not stop.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        stop.set()
    else:
        await stop.wait()


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
