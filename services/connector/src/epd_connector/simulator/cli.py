"""`epd simulate`: drive the Baotou-style generator in real time or accelerated into a connector source."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

import typer

from epd_connector.config import ConfigError, load_plant_config
from epd_connector.simulator.drift import DriftSpecError, parse_drift, parse_offset
from epd_connector.simulator.feeds import CsvFeed, HttpFeed, MqttFeed, OpcUaFeed
from epd_connector.simulator.generator import SimulationSpec
from epd_connector.simulator.generator import simulate as generate
from epd_connector.simulator.ratios import load_ratios


def simulate(
    plant_config: Path = typer.Option(..., "--plant", help="plant YAML whose bindings the feed writes"),
    to: str = typer.Option("files", "--to", help="opcua | mqtt | http | files"),
    duration: str = typer.Option("1h", help="simulated time span, e.g. 30m, 2h, 1d"),
    step: str = typer.Option("60s", help="sampling step"),
    speed: float = typer.Option(1.0, help="1 = real time, 60 = a minute per second, 0 = as fast as possible"),
    drift: list[str] = typer.Option([], "--drift", help="e.g. roasting.electricity=+20%@2h (repeatable)"),
    seed: int = typer.Option(0, help="random seed (runs are reproducible)"),
    bad_probability: float = typer.Option(0.001, help="share of deliberately bad readings"),
    start: str = typer.Option("", help="ISO start time (default: now)"),
    out: Path = typer.Option(Path("simulated.csv"), help="CSV file for --to files"),
    url: str = typer.Option("http://127.0.0.1:8081", help="connector URL for --to http"),
    mqtt_host: str = typer.Option("127.0.0.1", help="broker for --to mqtt"),
    mqtt_port: int = typer.Option(18883, help="broker port for --to mqtt"),
    mqtt_username: str = typer.Option("", help="the plant's broker user for --to mqtt (default: the plant id)"),
    mqtt_password: str = typer.Option(
        "", envvar="EPD_SIMULATE_MQTT_PASSWORD", show_default=False, help="its password (better: the variable)"
    ),
    mqtt_tls: bool = typer.Option(True, "--mqtt-tls/--mqtt-plain", help="TLS to the broker"),
    push_token: str = typer.Option(
        "", envvar="EPD_SIMULATE_PUSH_TOKEN", show_default=False, help="push token for --to http (better: the variable)"
    ),
    ca: Path | None = typer.Option(None, help="CA file that verifies the broker or the connector (default: system)"),
    client_cert: Path | None = typer.Option(None, help="client certificate for --to http with mTLS (PEM)"),
    client_key: Path | None = typer.Option(None, help="its private key (PEM)"),
    opcua_endpoint: str = typer.Option("opc.tcp://127.0.0.1:4840/epd/", help="server endpoint for --to opcua"),
) -> None:
    """Simulate a plant's meters and feed them to a connector source."""
    try:
        plant = load_plant_config(plant_config)
        drifts = tuple(parse_drift(d) for d in drift)
        span, dt = parse_offset(duration), parse_offset(step)
        t0 = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else datetime.now(UTC)
    except (ConfigError, DriftSpecError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    ratios = load_ratios()
    stages = tuple(s for s in ratios if any(plant.meter(m.meter_id) for m in ratios[s].meters))
    if not stages:
        typer.echo(f"no meter of {plant.plant_id} matches a simulator stage", err=True)
        raise typer.Exit(2)
    feeds = {
        "opcua": lambda: OpcUaFeed(plant, opcua_endpoint),
        "mqtt": lambda: MqttFeed(
            plant,
            mqtt_host,
            mqtt_port,
            username=mqtt_username or plant.plant_id,
            password=mqtt_password,
            tls=mqtt_tls,
            ca_file=ca,
        ),
        "http": lambda: HttpFeed(
            plant,
            url,
            token=push_token or None,
            ca_file=ca,
            client_cert=(client_cert, client_key) if client_cert and client_key else None,
        ),
        "files": lambda: CsvFeed(plant, out),
    }
    if to not in feeds:
        typer.echo(f"--to must be one of {', '.join(feeds)}", err=True)
        raise typer.Exit(2)
    spec = SimulationSpec(
        plant.plant_id, t0, span, dt, seed=seed, stages=stages, drifts=drifts, bad_probability=bad_probability
    )
    n = asyncio.run(_drive(feeds[to](), spec, ratios, speed))
    typer.echo(f"simulated {n} readings of {plant.plant_id} to {to}")


async def _drive(feed, spec: SimulationSpec, ratios, speed: float) -> int:
    await feed.start()
    sent = 0
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        for at, group in itertools.groupby(generate(spec, ratios), key=lambda s: s.raw.observed_at.ToDatetime()):
            readings = [s.raw for s in group]
            if speed > 0:
                due = began + (at.replace(tzinfo=UTC) - spec.start).total_seconds() / speed
                await asyncio.sleep(max(0.0, due - loop.time()))
            await feed.send(readings)
            sent += len(readings)
    finally:
        await feed.stop()
    return sent
