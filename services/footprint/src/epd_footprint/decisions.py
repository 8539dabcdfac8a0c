"""A verifier's decisions on a version (service layer of the admin API): approve, reject, withdraw.

The decision records the authenticated user (epd_versions.decided_by; an approval also writes the
user's name to `verifier`) and, for a rejection or withdrawal, the reason (decision_reason), shown by
`epd footprint show`. Separation of duties: a user who registered the version's product or its plant
may not approve it (403 `separation_of_duties`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from epd_common.db import transaction

from .admin import AdminError
from .domain.lifecycle import Status
from .users import User
from .versions import VersionError, approve, move


async def approve_version(pool: asyncpg.Pool, pf_id: uuid.UUID, user: User) -> dict:
    async with transaction(pool) as conn:
        row = await conn.fetchrow(
            """SELECT s.product_id, s.plant_id, pr.registered_by AS product_by, pl.registered_by AS plant_by
               FROM epd_versions v JOIN epd_series s ON s.series_id = v.series_id
               LEFT JOIN products pr ON pr.product_id = s.product_id
               LEFT JOIN plants pl ON pl.plant_id = s.plant_id WHERE v.pf_id = $1""",
            pf_id,
        )
        if row is None:
            raise VersionError("unknown_version", f"no EPD version {pf_id}")
        if user.user_id in (row["product_by"], row["plant_by"]):
            what = f"product {row['product_id']}" if user.user_id == row["product_by"] else f"plant {row['plant_id']}"
            raise AdminError(
                403,
                "separation_of_duties",
                f"{user.name} registered {what}; another verifier must approve its versions",
            )
        old = await approve(conn, pf_id, user.name, datetime.now(UTC))
        await conn.execute(
            "UPDATE epd_versions SET decided_by = $2, decision_reason = NULL WHERE pf_id = $1", pf_id, user.user_id
        )
    return {
        "pf_id": str(pf_id),
        "status": "published",
        "deprecated": str(old) if old else None,
        "decided_by": user.user_id,
        "verifier": user.name,
    }


async def reject_version(pool: asyncpg.Pool, pf_id: uuid.UUID, reason: str, user: User) -> dict:
    """A verifier rejects a provisional version: it is withdrawn, with change type 'rejected'."""
    async with transaction(pool) as conn:
        status = await conn.fetchval("SELECT status FROM epd_versions WHERE pf_id = $1", pf_id)
        if status is None:
            raise VersionError("unknown_version", f"no EPD version {pf_id}")
        if status != "provisional":
            raise VersionError("forbidden_transition", f"only a provisional version can be rejected; it is {status}")
        # figures and the version's own reason stay immutable; the decision is recorded beside them
        await move(conn, pf_id, Status.WITHDRAWN, "rejected", decided_by=user.user_id, decision_reason=reason)
    return {"pf_id": str(pf_id), "status": "withdrawn", "decided_by": user.user_id, "decision_reason": reason}


async def withdraw_version(pool: asyncpg.Pool, pf_id: uuid.UUID, reason: str, user: User) -> dict:
    async with transaction(pool) as conn:
        await move(conn, pf_id, Status.WITHDRAWN, "withdrawn", decided_by=user.user_id, decision_reason=reason)
    return {"pf_id": str(pf_id), "status": "withdrawn", "decided_by": user.user_id, "decision_reason": reason}
