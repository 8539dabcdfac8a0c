"""Simulated plants for the scale scenario: the demo smelter's stages (roasting, leaching, solvent
extraction) repeated as production lines until a plant has the meters asked for, its connector YAML
as `epd connector register-plant` reads it, its intensity processes, and its telemetry from the
connector's own simulator (epd_connector.simulator), signed with the plant's registered key.

A line n of plant p names its meters `p.l<n>.<stage>.<activity>` (meter ids are unique nationwide) and
its processes `p/l<n>-<stage>`, so every plant is registered, validated and windowed like a real one;
only the ids are generated."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from epd.v1 import telemetry_pb2
from epd_connector.batching import batch_id_for
from epd_connector.config import PlantConfig
from epd_connector.keys import key_id_for
from epd_connector.signing import sign_batch
from epd_connector.simulator.drift import Drift
from epd_connector.simulator.generator import SimulationSpec, simulate
from epd_connector.simulator.ratios import Stage, load_ratios
from epd_devstack.demo.seed import DEMO, plant_config

TEMPLATE_PLANT = "baotou-smelter"
STAGES = ("roasting", "leaching", "solvent_extraction")  # the simulator's stage names, in line order
PROCESS_OF_STAGE = {"roasting": "roasting", "leaching": "leaching", "solvent_extraction": "solvent-extraction"}


def _template() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    plant = yaml.safe_load(plant_config(TEMPLATE_PLANT).read_text())
    processes = yaml.safe_load((DEMO / "processes.yaml").read_text())["processes"]
    return plant, {p["process_id"]: p for p in processes if p["plant_id"] == TEMPLATE_PLANT}


def line_stages(meters: int, ratios: dict[str, Stage]) -> list[tuple[int, str]]:
    """(line, stage) pairs, whole stages in line order, until at least `meters` meters."""
    out: list[tuple[int, str]] = []
    total, i = 0, 0
    while total < meters:
        line, stage = i // len(STAGES) + 1, STAGES[i % len(STAGES)]
        out.append((line, stage))
        total += len(ratios[stage].meters)
        i += 1
    return out


@dataclass
class SimPlant:
    plant_id: str
    key: Ed25519PrivateKey
    lines: list[tuple[int, str]]  # (line, simulator stage)
    config: dict[str, Any]  # the connector YAML as a mapping
    processes: list[dict[str, Any]]  # intensity process entries
    meter_ids: dict[str, str] = field(default_factory=dict)  # simulator meter id per line -> registered id

    @property
    def meters(self) -> int:
        return len(self.config["meters"])

    @property
    def key_id(self) -> str:
        return key_id_for(self.key.public_key())

    def plant_config(self) -> PlantConfig:
        return PlantConfig.model_validate(self.config)


def synthetic_plant(index: int, meters: int, interval_s: int, ratios: dict[str, Stage]) -> SimPlant:
    plant_id = f"scale-{index:04d}"
    template, template_processes = _template()
    lines = line_stages(meters, ratios)
    config: dict[str, Any] = {
        "plant_id": plant_id,
        "site": {**template["site"], "name": f"Scale-test smelter {index}"},
        "processes": [],
        "products": template["products"],
        "meters": [],
    }
    processes = []
    by_stage_prefix = {m["meter_id"].split(".")[0]: m for m in template["meters"]}  # any meter of the stage
    for line, stage in lines:
        template_process = by_stage_prefix[stage]["process_id"]
        process_id = f"{plant_id}/l{line}-{PROCESS_OF_STAGE[stage]}"
        described = next(p for p in template["processes"] if p["process_id"] == template_process)
        config["processes"].append({**described, "process_id": process_id, "name": f"{described['name']} {line}"})
        processes.append({**template_processes[template_process], "process_id": process_id, "plant_id": plant_id})
        for meter in template["meters"]:
            if meter["process_id"] != template_process:
                continue
            m = copy.deepcopy(meter)
            m["meter_id"] = f"{plant_id}.l{line}.{meter['meter_id']}"
            m["process_id"] = process_id
            m["interval_seconds"] = interval_s
            m["sources"] = {"http": {"field": m["meter_id"]}}
            config["meters"].append(m)
    used = {m["product_id"] for m in config["meters"] if m.get("product_id")}
    config["products"] = [p for p in template["products"] if p["product_id"] in used]
    return SimPlant(plant_id, Ed25519PrivateKey.generate(), lines, config, processes)


def demo_plant(plant_id: str, key: Ed25519PrivateKey, interval_s: int) -> SimPlant:
    """A plant of the demo (its products have EPDs, so its drift makes versions): as registered."""
    config = yaml.safe_load(plant_config(plant_id).read_text())
    processes = yaml.safe_load((DEMO / "processes.yaml").read_text())["processes"]
    return SimPlant(plant_id, key, [], config, [p for p in processes if p["plant_id"] == plant_id])


class Feed:
    """A plant's readings step by step from the connector's simulator, each step one signed batch."""

    def __init__(
        self,
        plant: SimPlant,
        start: dt.datetime,
        end: dt.datetime,
        step: dt.timedelta,
        seed: int,
        drifts: tuple[Drift, ...] = (),
        bad_probability: float = 0.001,
    ) -> None:
        self.plant = plant
        self.sequence = 0
        ratios = load_ratios()
        duration = end - start
        if plant.lines:
            self._iters = [
                (
                    f"{plant.plant_id}.l{line}.",
                    len(ratios[stage].meters),
                    simulate(
                        SimulationSpec(
                            plant.plant_id,
                            start,
                            duration,
                            step,
                            seed=seed * 1000 + i,
                            stages=(stage,),
                            bad_probability=bad_probability,
                        ),
                        ratios,
                    ),
                )
                for i, (line, stage) in enumerate(plant.lines)
            ]
        else:  # a demo plant: the simulator's stages of its meters, as `epd simulate --plant` does
            stages = tuple(dict.fromkeys(m["meter_id"].split(".")[0] for m in plant.config["meters"]))
            n = sum(len(ratios[s].meters) for s in stages)
            spec = SimulationSpec(
                plant.plant_id,
                start,
                duration,
                step,
                seed=seed,
                stages=stages,
                drifts=drifts,
                bad_probability=bad_probability,
            )
            self._iters = [("", n, simulate(spec, ratios))]

    def steps(self) -> Iterator[tuple[dt.datetime, list[telemetry_pb2.RawReading]]]:
        """(observed_at, the step's readings) until the simulated span ends."""
        while True:
            readings: list[telemetry_pb2.RawReading] = []
            for prefix, n, it in self._iters:
                for _ in range(n):
                    sim = next(it, None)
                    if sim is None:
                        return
                    raw = sim.raw
                    if prefix:
                        raw.meter_id = prefix + raw.meter_id
                        raw.source_ref = "sim:" + raw.meter_id
                    readings.append(raw)
            yield readings[0].observed_at.ToDatetime(dt.UTC), readings

    def sign(self, readings: list[telemetry_pb2.RawReading], now: dt.datetime) -> bytes:
        """One signed batch of the plant, as its connector sends it to the raw topic."""
        seq = self.sequence
        self.sequence += 1
        batch = telemetry_pb2.TelemetryBatch(
            batch_id=batch_id_for(self.plant.plant_id, seq, "scale"),
            plant_id=self.plant.plant_id,
            sequence=seq,
            readings=readings,
            connector_version="bench-scale",
            stream_id="scale",
        )
        batch.created_at.FromDatetime(now)
        return sign_batch(batch, self.plant.key, self.plant.key_id).SerializeToString()
