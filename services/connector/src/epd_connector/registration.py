"""Register a plant in the platform registry (PostgreSQL tables of migration 0002 + 0003 columns).

Upserts the organisation (if missing), the plant, its processes, products named by output meters,
meters and the plant's public key, in one transaction, from the same plant YAML the connector runs
with. `meters.meter_id` is globally unique in the schema: a meter id already owned by another
plant's process is refused rather than silently moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from epd_connector.config import PlantConfig
from epd_connector.signing import public_key_to_raw

# processes.stage CHECK values, found from the process id's last path segment.
_STAGES = {
    "mine": "mining",
    "mining": "mining",
    "beneficiation": "beneficiation",
    "mine_beneficiation": "beneficiation",
    "roasting": "roasting",
    "leaching": "leaching",
    "solvent-extraction": "separation",
    "solvent_extraction": "separation",
    "separation": "separation",
    "electrolysis": "electrolysis",
    "magnet": "magnet",
}


class RegistrationError(ValueError):
    """The plant cannot be registered as described (message says why)."""


@dataclass(frozen=True)
class PlantSite:
    organisation_id: str
    name: str
    province: str
    grid_region: str


def stage_of(process_id: str) -> str:
    return _STAGES.get(process_id.rsplit("/", 1)[-1].lower(), "other")


async def register_plant(conn: asyncpg.Connection, plant: PlantConfig, site: PlantSite, key: Ed25519PublicKey) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO organisations (organisation_id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING",
            site.organisation_id,
        )
        await conn.execute(
            "INSERT INTO plants (plant_id, organisation_id, name, province, grid_region) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (plant_id) DO UPDATE SET organisation_id = excluded.organisation_id,"
            " name = excluded.name, province = excluded.province, grid_region = excluded.grid_region",
            plant.plant_id,
            site.organisation_id,
            site.name,
            site.province,
            site.grid_region,
        )
        for process_id in sorted({m.process_id for m in plant.meters}):
            owner = await conn.fetchval("SELECT plant_id FROM processes WHERE process_id = $1", process_id)
            if owner is not None and owner != plant.plant_id:
                raise RegistrationError(f"process {process_id} belongs to plant {owner}")
            await conn.execute(
                "INSERT INTO processes (process_id, plant_id, name, stage) VALUES ($1, $2, $1, $3)"
                " ON CONFLICT (process_id) DO NOTHING",
                process_id,
                plant.plant_id,
                stage_of(process_id),
            )
        for m in plant.meters:
            if m.product_id:
                await conn.execute(
                    "INSERT INTO products (product_id, name, organisation_id) VALUES ($1, $1, $2)"
                    " ON CONFLICT DO NOTHING",
                    m.product_id,
                    site.organisation_id,
                )
            owner = await conn.fetchval(
                "SELECT p.plant_id FROM meters m JOIN processes p USING (process_id) WHERE m.meter_id = $1", m.meter_id
            )
            if owner is not None and owner != plant.plant_id:
                raise RegistrationError(f"meter {m.meter_id} is registered for plant {owner}")
            await conn.execute(
                "INSERT INTO meters (meter_id, process_id, activity_kind, activity, unit, reading_kind,"
                " counter_modulus, max_rate_per_hour, product_id, reset_floor, interval_seconds)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                " ON CONFLICT (meter_id) DO UPDATE SET process_id = excluded.process_id,"
                " activity_kind = excluded.activity_kind, activity = excluded.activity, unit = excluded.unit,"
                " reading_kind = excluded.reading_kind, counter_modulus = excluded.counter_modulus,"
                " max_rate_per_hour = excluded.max_rate_per_hour, product_id = excluded.product_id,"
                " reset_floor = excluded.reset_floor, interval_seconds = excluded.interval_seconds",
                m.meter_id,
                m.process_id,
                m.activity_kind.value,
                m.activity,
                m.unit,
                m.kind.value,
                m.rollover,
                m.max_rate_per_hour,
                m.product_id,
                m.reset_floor,
                m.interval_seconds,
            )
        raw = public_key_to_raw(key)
        existing = await conn.fetchval(
            "SELECT public_key FROM plant_keys WHERE plant_id = $1 AND key_id = $2", plant.plant_id, plant.key_id
        )
        if existing is not None and bytes(existing) != raw:
            raise RegistrationError(
                f"key {plant.key_id} is already registered with different key material;"
                " rotate by giving the new key a new key_id"
            )
        await conn.execute(
            "INSERT INTO plant_keys (plant_id, key_id, public_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            plant.plant_id,
            plant.key_id,
            raw,
        )
