"""PlantRegistry backed by PostgreSQL (plants, plant_keys, processes, meters of migration 0002).

The pipeline looks plants up synchronously, so the registry holds a snapshot in memory and
`refresh` reloads it. The service refreshes when the database announces a registry change (migration
0008's triggers notify channel `epd_plant_registry` on every write to plants, keys, processes and
meters; `changed` is set by that notification), and every EPD_INGEST_REGISTRY_REFRESH_SECONDS in any
case, which also re-opens a listening connection that was lost. So a revoked key stops counting
without a restart, within about one poll.
Retired and revoked keys are loaded with the time they stopped counting: batches signed before it
must still verify (DESIGN.md section 6). A meter row that does not make a valid MeterSpec is skipped
and logged, not fatal.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from epd_ingest.registry import MeterSpec, PlantKey, PlantRecord, RegistryError, meter_from_mapping

log = logging.getLogger(__name__)

#: The channel migration 0008's triggers notify on every registry write.
REGISTRY_CHANNEL = "epd_plant_registry"

_KEYS = "SELECT plant_id, key_id, public_key, retired_at, revoked_at, revocation_reason FROM plant_keys"

_METERS = """
SELECT p.plant_id, m.meter_id, m.process_id, m.activity_kind, m.activity, m.unit, m.reading_kind,
       m.counter_modulus, m.max_rate_per_hour, m.product_id, m.reset_floor, m.interval_seconds
FROM meters m JOIN processes p USING (process_id)
"""


class PgPlantRegistry:
    def __init__(self, pool: asyncpg.Pool, listen_dsn: str | None = None) -> None:
        """`listen_dsn`: where to LISTEN for registry changes on a connection of its own (a pooled one
        would lose its listener when released); None: periodic refreshes only."""
        self._pool = pool
        self._plants: dict[str, PlantRecord] = {}
        self._listen_dsn = listen_dsn
        self._listener: asyncpg.Connection | None = None
        self.changed = asyncio.Event()

    def plant(self, plant_id: str) -> PlantRecord | None:
        return self._plants.get(plant_id)

    def __len__(self) -> int:
        return len(self._plants)

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.is_closed():
            listener.remove_termination_listener(self._lost)  # closed on purpose, not lost
            await listener.close()

    async def _listen(self) -> None:
        """Open the listening connection if there is none (first refresh, or after it was lost)."""
        if self._listen_dsn is None or (self._listener is not None and not self._listener.is_closed()):
            return
        try:
            conn = await asyncpg.connect(self._listen_dsn)
            await conn.add_listener(REGISTRY_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError) as exc:  # periodic refreshes go on; the next one retries
            log.warning("cannot listen for plant registry changes (%s); refreshing periodically", exc)
            return
        conn.add_termination_listener(self._lost)
        self._listener = conn

    def _notified(self, *_: object) -> None:
        self.changed.set()

    def _lost(self, *_: object) -> None:
        log.warning("plant registry listener connection lost; refreshing periodically until it is back")
        self._listener = None

    async def refresh(self) -> None:
        """Reload the snapshot (clears `changed` first: a change during the reload sets it again)."""
        await self._listen()  # before reading: a change committed after the read is then announced
        self.changed.clear()
        async with self._pool.acquire() as conn:
            plants = [r[0] for r in await conn.fetch("SELECT plant_id FROM plants")]
            key_rows = await conn.fetch(_KEYS)
            meter_rows = await conn.fetch(_METERS)
        keys: dict[str, dict[str, PlantKey]] = {p: {} for p in plants}
        for r in key_rows:
            keys.setdefault(r["plant_id"], {})[r["key_id"]] = PlantKey(
                Ed25519PublicKey.from_public_bytes(bytes(r["public_key"])),
                retired_at=r["retired_at"],
                revoked_at=r["revoked_at"],
                revocation_reason=r["revocation_reason"] or "",
            )
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
