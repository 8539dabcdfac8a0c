"""Fixtures for ingest tests: a registered plant with a real Ed25519 key and a batch builder
that signs with the connector's own signing code, so both sides are exercised together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from epd.v1 import telemetry_pb2
from epd_connector import signing
from epd_connector.batching import batch_id_for
from epd_ingest.pipeline import IngestConfig, IngestState
from epd_ingest.registry import InMemoryPlantRegistry, meter_from_mapping

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
PLANT = "baotou-smelter"
KEY_ID = "baotou-smelter-2025"

METERS = [
    {
        "meter_id": "roasting.electricity",
        "process_id": f"{PLANT}/roasting",
        "activity_kind": "electricity",
        "activity": "electricity.grid",
        "unit": "kWh",
        "kind": "interval",
        "max_rate_per_hour": "50000",
    },
    {
        "meter_id": "roasting.electricity-total",
        "process_id": f"{PLANT}/roasting",
        "activity_kind": "electricity",
        "activity": "electricity.grid",
        "unit": "kWh",
        "kind": "counter",
        "rollover": "1000000",
        "max_rate_per_hour": "50000",
    },
    {
        "meter_id": "roasting.coal",
        "process_id": f"{PLANT}/roasting",
        "activity_kind": "fuel",
        "activity": "fuel.coal",
        "unit": "t",
        "kind": "interval",
    },
    {
        "meter_id": "roasting.h2so4",
        "process_id": f"{PLANT}/roasting",
        "activity_kind": "reagent",
        "activity": "reagent.h2so4",
        "unit": "t",
        "kind": "interval",
    },
    {
        "meter_id": "roasting.steam",
        "process_id": f"{PLANT}/roasting",
        "activity_kind": "steam",
        "activity": "steam.purchased",
        "unit": "GJ",
        "kind": "interval",
    },
    {
        "meter_id": "roasting.natural-gas",
        "process_id": f"{PLANT}/roasting",
        "activity_kind": "fuel",
        "activity": "fuel.natural_gas",
        "unit": "Nm3",
        "kind": "counter",
    },
]


def ts(offset_s: float) -> datetime:
    return NOW + timedelta(seconds=offset_s)


def raw(
    meter: str,
    value: str,
    unit: str = "kWh",
    at: datetime | None = None,
    *,
    kind: int = telemetry_pb2.READING_KIND_UNSPECIFIED,
    quality: int = telemetry_pb2.READING_QUALITY_GOOD,
) -> telemetry_pb2.RawReading:
    r = telemetry_pb2.RawReading(meter_id=meter, value=value, unit=unit, kind=kind, quality=quality, source_ref="test")
    r.observed_at.FromDatetime(at or ts(-60))
    return r


@dataclass
class Plant:
    key: object
    registry: InMemoryPlantRegistry
    state: IngestState
    config: IngestConfig
    seq: list[int] = field(default_factory=lambda: [0])

    def batch(
        self,
        *readings: telemetry_pb2.RawReading,
        plant_id: str = PLANT,
        sequence: int | None = None,
        key=None,
        key_id: str = KEY_ID,
        created_at: datetime = NOW,
    ) -> telemetry_pb2.SignedTelemetryBatch:
        if sequence is None:
            sequence = self.seq[0]
            self.seq[0] += 1
        b = telemetry_pb2.TelemetryBatch(
            batch_id=batch_id_for(plant_id, sequence), plant_id=plant_id, sequence=sequence, readings=list(readings)
        )
        b.created_at.FromDatetime(created_at)
        return signing.sign_batch(b, key or self.key, key_id)

    def bytes(self, *readings: telemetry_pb2.RawReading, **kw) -> bytes:
        return self.batch(*readings, **kw).SerializeToString()


@pytest.fixture
def plant() -> Plant:
    key = signing.generate_private_key()
    registry = InMemoryPlantRegistry()
    registry.register(PLANT, {KEY_ID: key.public_key()}, [meter_from_mapping(m) for m in METERS])
    config = IngestConfig()
    return Plant(key, registry, IngestState.for_config(config), config)
