"""PlantRegistry backed by PostgreSQL (plants, plant_keys, processes, meters of migration 0002).

The pipeline looks plants up synchronously, so the registry holds a snapshot in memory and
`refresh` reloads it (the service calls it every EPD_INGEST_REGISTRY_REFRESH_SECONDS). Retired keys
are loaded too: batches signed before a key rotation must still verify (DESIGN.md section 6).
A meter row that does not make a valid MeterSpec is skipped and logged, not fatal.
"""

from __future__ import annotations

import logging

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from epd_ingest.registry import MeterSpec, PlantRecord, RegistryError, meter_from_mapping

log = logging.getLogger(__name__)

_METERS = """
SELECT p.plant_id, m.meter_id, m.process_id, m.activity_kind, m.activity, m.unit, m.reading_kind,
       m.counter_modulus, m.max_rate_per_hour, m.product_id, m.reset_floor, m.interval_seconds
FROM meters m JOIN processes p USING (process_id)
"""


class PgPlantRegistry:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._plants: dict[str, PlantRecord] = {}

    def plant(self, plant_id: str) -> PlantRecord | None:
        return self._plants.get(plant_id)

    def __len__(self) -> int:
        return len(self._plants)

    async def refresh(self) -> None:
        async with self._pool.acquire() as conn:
            plants = [r[0] for r in await conn.fetch("SELECT plant_id FROM plants")]
            key_rows = await conn.fetch("SELECT plant_id, key_id, public_key FROM plant_keys")
            meter_rows = await conn.fetch(_METERS)
        keys: dict[str, dict[str, Ed25519PublicKey]] = {p: {} for p in plants}
        for r in key_rows:
            keys.setdefault(r["plant_id"], {})[r["key_id"]] = Ed25519PublicKey.from_public_bytes(bytes(r["public_key"]))
        meters: dict[str, dict[str, MeterSpec]] = {p: {} for p in plants}
        for r in meter_rows:
            try:
                spec = meter_from_mapping(
                    {
                        "meter_id": r["meter_id"],
                        "process_id": r["process_id"],
                        "activity_kind": r["activity_kind"],
                        "activity": r["activity"],
                        "unit": r["unit"],
                        "kind": r["reading_kind"],
                        "rollover": r["counter_modulus"],
                        "max_rate_per_hour": r["max_rate_per_hour"],
                        "reset_floor": r["reset_floor"],
                        "interval_seconds": r["interval_seconds"],
                        "product_id": r["product_id"],
                    }
                )
            except RegistryError as exc:
                log.warning("skipping meter %s: %s", r["meter_id"], exc)
                continue
            meters.setdefault(r["plant_id"], {})[spec.meter_id] = spec
        self._plants = {p: PlantRecord(p, keys.get(p, {}), meters.get(p, {})) for p in plants}
