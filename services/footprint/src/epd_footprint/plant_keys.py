"""A plant's signing keys over their life: listed, retired at the end of a rotation, revoked with a reason.

The registry never deletes a key: ingest needs it to verify what was signed before the key stopped
counting. Retiring refuses to leave a plant without a key in force from that time on: another key,
neither retired nor revoked (not even later), must remain. Revoking is always allowed (a leaked key
must stop counting even if it was the only one) and happens once: a second, different revocation of
the same key is refused, so the effective time a verifier saw never moves. Every write is announced to
ingest by the registry triggers (migration 0008).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import asyncpg

from epd_common.db import transaction

from . import schemas as s
from .admin import AdminError

_COLUMNS = "key_id, public_key, created_at, retired_at, revoked_at, revocation_reason"


def _status(row: asyncpg.Record, now: datetime) -> str:
    if row["revoked_at"] is not None and row["revoked_at"] <= now:
        return "revoked"
    if row["retired_at"] is not None and row["retired_at"] <= now:
        return "retired"
    return "active"


def _key(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "key_id": row["key_id"],
        "status": _status(row, now),
        "created_at": iso(row["created_at"]),
        "retired_at": iso(row["retired_at"]),
        "revoked_at": iso(row["revoked_at"]),
        "revocation_reason": row["revocation_reason"],
    }


async def _locked_key(conn: asyncpg.Connection, plant_id: str, key_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM plant_keys WHERE plant_id = $1 AND key_id = $2 FOR UPDATE", plant_id, key_id
    )
    if row is None:
        if await conn.fetchval("SELECT 1 FROM plants WHERE plant_id = $1", plant_id) is None:
            raise AdminError(404, "unknown_plant", f"plant {plant_id} is not registered")
        raise AdminError(404, "unknown_key", f"plant {plant_id} has no key {key_id}")
    return row


async def list_keys(pool: asyncpg.Pool, plant_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM plants WHERE plant_id = $1", plant_id) is None:
            raise AdminError(404, "unknown_plant", f"plant {plant_id} is not registered")
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM plant_keys WHERE plant_id = $1 ORDER BY created_at, key_id", plant_id
        )
    return {"plant_id": plant_id, "keys": [_key(r, now) for r in rows]}


async def retire_key(pool: asyncpg.Pool, plant_id: str, key_id: str, body: s.KeyRetireIn) -> dict[str, Any]:
    now = datetime.now(UTC)
    at = body.effective_at or now
    async with transaction(pool) as conn:
        # Every key of the plant locked in one order: two concurrent retirements cannot each see the
        # other's key as the one left in force.
        await conn.execute("SELECT 1 FROM plant_keys WHERE plant_id = $1 ORDER BY key_id FOR UPDATE", plant_id)
        row = await _locked_key(conn, plant_id, key_id)
        if row["revoked_at"] is not None:
            raise AdminError(409, "key_revoked", f"key {key_id} of plant {plant_id} is revoked; nothing to retire")
        if row["retired_at"] is not None:
            if row["retired_at"] == at:
                return _key(row, now)
            raise AdminError(
                409, "key_retired", f"key {key_id} of plant {plant_id} is retired since {row['retired_at'].isoformat()}"
            )
        # Another key must stay in force from `at` on, not only at `at`: a key that is itself to retire or
        # be revoked later would leave the plant without a key once it stops.
        open_ended = await conn.fetchval(
            """SELECT count(*) FROM plant_keys WHERE plant_id = $1 AND key_id <> $2
               AND retired_at IS NULL AND revoked_at IS NULL""",
            plant_id,
            key_id,
        )
        if not open_ended:
            raise AdminError(
                409,
                "no_key_left",
                f"retiring {key_id} would leave plant {plant_id} without a key in force (every other key is retired"
                " or revoked, or will be); register the new key first",
            )
        updated = await conn.fetchrow(
            f"UPDATE plant_keys SET retired_at = $3 WHERE plant_id = $1 AND key_id = $2 RETURNING {_COLUMNS}",
            plant_id,
            key_id,
            at,
        )
    return _key(cast(asyncpg.Record, updated), now)  # the row is locked above, so the UPDATE found it


async def revoke_key(pool: asyncpg.Pool, plant_id: str, key_id: str, body: s.KeyRevokeIn) -> dict[str, Any]:
    now = datetime.now(UTC)
    at = body.effective_at or now
    async with transaction(pool) as conn:
        row = await _locked_key(conn, plant_id, key_id)
        if row["revoked_at"] is not None:
            if row["revoked_at"] == at and row["revocation_reason"] == body.reason:
                return _key(row, now)
            raise AdminError(
                409,
                "key_revoked",
                f"key {key_id} of plant {plant_id} was revoked at {row['revoked_at'].isoformat()}"
                f" ({row['revocation_reason']}); a revocation is not changed",
            )
        updated = await conn.fetchrow(
            f"""UPDATE plant_keys SET revoked_at = $3, revocation_reason = $4 WHERE plant_id = $1 AND key_id = $2
                RETURNING {_COLUMNS}""",
            plant_id,
            key_id,
            at,
            body.reason,
        )
    return _key(cast(asyncpg.Record, updated), now)  # the row is locked above, so the UPDATE found it
