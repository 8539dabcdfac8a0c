"""Plant registry: which plants exist, their signing keys, and their meters.

`PlantRegistry` is the interface ingest depends on; production backs it with the footprint
database (admin API), tests use `InMemoryPlantRegistry`. Retired and revoked keys stay registered
with the time they stopped counting, so batches signed before it still verify (DESIGN.md section 6)
and later ones are refused with their own reason (`PlantKey.stopped`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from epd.v1 import telemetry_pb2
from epd_ingest import units
from epd_ingest.errors import IngestError

AK = telemetry_pb2.ActivityKind
RK = telemetry_pb2.ReadingKind

_KIND_NAMES = {
    "electricity": AK.ACTIVITY_KIND_ELECTRICITY,
    "fuel": AK.ACTIVITY_KIND_FUEL,
    "steam": AK.ACTIVITY_KIND_STEAM,
    "reagent": AK.ACTIVITY_KIND_REAGENT,
    "direct_emission": AK.ACTIVITY_KIND_DIRECT_EMISSION,
    "product_output": AK.ACTIVITY_KIND_PRODUCT_OUTPUT,
}
_READING_KINDS = {"interval": RK.READING_KIND_INTERVAL, "counter": RK.READING_KIND_COUNTER}


class RegistryError(IngestError):
    """A plant or meter description that cannot be registered."""


@dataclass(frozen=True)
class MeterSpec:
    """One registered meter. Rollover, reset floor and max rate are in canonical units."""

    meter_id: str
    process_id: str
    activity_kind: telemetry_pb2.ActivityKind
    activity: str
    reading_kind: telemetry_pb2.ReadingKind
    rollover_modulus: Decimal | None = None
    reset_floor: Decimal = Decimal(0)
    max_rate_per_hour: Decimal | None = None
    interval_seconds: int = 60
    product_id: str = ""


RR_KEY_REVOKED = telemetry_pb2.REJECTION_REASON_KEY_REVOKED
RR_KEY_RETIRED = telemetry_pb2.REJECTION_REASON_KEY_RETIRED


@dataclass(frozen=True)
class PlantKey:
    """A plant's signing key and when it stopped counting: retired (rotated out) or revoked (with a reason).

    A batch whose signed `created_at`, or any of whose readings' `observed_at`, is at or after that time
    is refused: a connector switches keys at rotation, and a leaked key cannot sign new data, not even
    data it backdates the batch for.
    """

    public_key: Ed25519PublicKey
    retired_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str = ""

    def stops(self) -> list[tuple[telemetry_pb2.RejectionReason, datetime, str]]:
        """(reason code, since, why) for each way the key stopped counting, revocation first: it wins where
        both apply. A key retired and revoked later stops at its retirement, with the retirement's reason
        for what falls between the two."""
        out = []
        if self.revoked_at is not None:
            out.append((RR_KEY_REVOKED, self.revoked_at, f"revoked: {self.revocation_reason}"))
        if self.retired_at is not None:
            out.append((RR_KEY_RETIRED, self.retired_at, "retired by a key rotation"))
        return out


@dataclass(frozen=True)
class PlantRecord:
    plant_id: str
    keys: Mapping[str, PlantKey]
    meters: Mapping[str, MeterSpec] = field(default_factory=dict)


class PlantRegistry(Protocol):
    def plant(self, plant_id: str) -> PlantRecord | None: ...


class InMemoryPlantRegistry:
    """Dictionary-backed registry for tests."""

    def __init__(self) -> None:
        self._plants: dict[str, PlantRecord] = {}

    def plant(self, plant_id: str) -> PlantRecord | None:
        return self._plants.get(plant_id)

    def register(
        self, plant_id: str, keys: Mapping[str, Ed25519PublicKey | PlantKey], meters: Iterable[MeterSpec]
    ) -> None:
        by_id: dict[str, MeterSpec] = {}
        for m in meters:
            if m.meter_id in by_id:
                raise RegistryError(f"{plant_id}: duplicate meter {m.meter_id!r}")
            by_id[m.meter_id] = m
        plant_keys = {k: v if isinstance(v, PlantKey) else PlantKey(v) for k, v in keys.items()}
        self._plants[plant_id] = PlantRecord(plant_id, plant_keys, by_id)

    def register_plant_mapping(
        self, mapping: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey | PlantKey]
    ) -> str:
        """Register a plant from the connector's plant YAML mapping (same field names)."""
        try:
            plant_id = str(mapping["plant_id"])
            meters = [meter_from_mapping(m) for m in mapping["meters"]]
        except (KeyError, TypeError) as exc:
            raise RegistryError(f"plant mapping lacks a field: {exc}") from exc
        self.register(plant_id, keys, meters)
        return plant_id


def _canonical(value: Any, unit: str, kind: int, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return units.normalise(Decimal(str(value)), unit, kind).quantity
    except (InvalidOperation, units.UnknownUnitError, units.IncompatibleUnitError) as exc:
        raise RegistryError(f"{what}: {exc}") from exc


def meter_from_mapping(m: Mapping[str, Any]) -> MeterSpec:
    """Build a MeterSpec from one `meters:` entry of a plant YAML; bounds converted to canonical."""
    try:
        meter_id = str(m["meter_id"])
        kind = _KIND_NAMES[m["activity_kind"]]
        reading_kind = _READING_KINDS[m["kind"]]
        unit = str(m["unit"])
        process_id, activity = str(m["process_id"]), str(m["activity"])
    except (KeyError, TypeError) as exc:
        raise RegistryError(f"meter entry missing or invalid field {exc}") from exc
    return MeterSpec(
        meter_id=meter_id,
        process_id=process_id,
        activity_kind=kind,
        activity=activity,
        reading_kind=reading_kind,
        rollover_modulus=_canonical(m.get("rollover"), unit, kind, f"{meter_id} rollover"),
        reset_floor=_canonical(m.get("reset_floor", 0), unit, kind, f"{meter_id} reset_floor") or Decimal(0),
        max_rate_per_hour=_canonical(m.get("max_rate_per_hour"), unit, kind, f"{meter_id} max_rate_per_hour"),
        interval_seconds=int(m.get("interval_seconds", 60)),
        product_id=str(m.get("product_id") or ""),
    )
