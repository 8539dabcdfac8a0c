"""Reads the registry from PostgreSQL (asyncpg, read-only role) with the portal's SQL (queries.py).

Versions are built with the record model's read model (`epd_records.readmodel.footprint_version`),
so a version on a page is the version the gateway serves and the publisher pushes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from epd.v1 import footprint_pb2
from epd_portal import queries as q
from epd_portal.errors import UnsafeDatabaseRole
from epd_records import readmodel

Record = dict[str, Any]


@dataclass(frozen=True)
class Version:
    """A version as the read model builds it, with when its status last changed."""

    fv: footprint_pb2.FootprintVersion
    pf_id: uuid.UUID
    status_changed_at: datetime | None


def _records(rows: Sequence[asyncpg.Record]) -> list[Record]:
    return [dict(r) for r in rows]


class Repository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        # Immutable rows, kept once read: loaded factor sets (a trigger forbids changes) and product
        # system versions (a new version is a new row).
        self._factor_sets: dict[str, tuple[Record, list[Record], list[Record]]] = {}
        self._documents: dict[tuple[str, int], dict[str, Any]] = {}

    async def check_read_only(self) -> None:
        """Refuse a role that could change data (UnsafeDatabaseRole names what it may do)."""
        row = await self.pool.fetchrow(q.ROLE_CHECK)
        if row is None:
            raise UnsafeDatabaseRole("the connected role is not visible in pg_roles")
        found = [name for name in ("powerful", "writes", "creates") if row[name]]
        if found:
            raise UnsafeDatabaseRole(
                "EPD_PORTAL_PG_DSN must name a read-only role (see db/migrations/versions/0007_portal_reader.py); "
                f"this one {', '.join(found)}"
            )

    async def listing(self, search: q.Search, limit: int, offset: int) -> tuple[list[Record], int]:
        page, count, args = q.listing(search, limit, offset)
        async with self.pool.acquire() as conn:
            rows = _records(await conn.fetch(page, *args))
            total = await conn.fetchval(count, *args[:-2]) if rows or offset else 0
        return rows, int(total)

    async def pcr_ids(self) -> list[str]:
        return [r["pcr_id"] for r in await self.pool.fetch(q.PCR_IDS)]

    async def categories(self, pcr_id: str | None = None) -> list[Record]:
        return _records(await self.pool.fetch(q.CATEGORIES, pcr_id))

    async def distribution(self, pcr_id: str) -> list[Record]:
        return _records(await self.pool.fetch(q.DISTRIBUTION, pcr_id))

    async def product(self, product_id: str) -> Record | None:
        row = await self.pool.fetchrow(q.PRODUCT, product_id)
        return None if row is None else dict(row)

    async def series(self, product_id: str, operator: bool) -> list[Record]:
        return _records(await self.pool.fetch(q.SERIES, product_id, operator))

    async def _versions(self, rows: Sequence[asyncpg.Record]) -> list[Version]:
        ids = [r["pf_id"] for r in rows]
        if not ids:
            return []
        async with self.pool.acquire() as conn:
            results = readmodel.by_version(await conn.fetch(readmodel.RESULTS_SELECT, ids))
            evidence = readmodel.by_version(await conn.fetch(readmodel.EVIDENCE_SELECT, ids))
            changed = {r["pf_id"]: r["status_changed_at"] for r in await conn.fetch(q.STATUS_TIMES, ids)}
        return [
            Version(
                readmodel.footprint_version(r, results.get(r["pf_id"], []), evidence.get(r["pf_id"], [])),
                r["pf_id"],
                changed.get(r["pf_id"]),
            )
            for r in rows
        ]

    async def versions(self, series_id: uuid.UUID) -> list[Version]:
        """Every version of a series, oldest first (the caller decides what its viewer sees)."""
        return await self._versions(await self.pool.fetch(q.VERSIONS, series_id))

    async def version(self, pf_id: uuid.UUID) -> Version | None:
        found = await self._versions(await self.pool.fetch(q.VERSION, pf_id))
        return found[0] if found else None

    async def drift_events(self, series_id: uuid.UUID) -> list[Record]:
        return _records(await self.pool.fetch(q.DRIFT_EVENTS, series_id))

    async def changes(self, pf_ids: Sequence[uuid.UUID]) -> list[Record]:
        return _records(await self.pool.fetch(q.CHANGES, list(pf_ids)))

    async def evidence_windows(self, pf_ids: Sequence[uuid.UUID]) -> list[Record]:
        return _records(await self.pool.fetch(q.EVIDENCE_WINDOWS, list(pf_ids)))

    async def factor_set(self, version: str) -> tuple[Record | None, list[Record], list[Record]]:
        if version in self._factor_sets:
            return self._factor_sets[version]
        async with self.pool.acquire() as conn:
            head = await conn.fetchrow(q.FACTOR_SET, version)
            factors = _records(await conn.fetch(q.FACTORS, version))
            gwp = _records(await conn.fetch(q.GWP_VALUES, version))
        for f in factors:
            f["gases"] = json.loads(f["gases"]) if isinstance(f["gases"], str) else f["gases"]
        if head is None:
            return None, factors, gwp
        if len(self._factor_sets) < 100:
            self._factor_sets[version] = (dict(head), factors, gwp)
        return dict(head), factors, gwp

    async def system_documents(self) -> list[dict[str, Any]]:
        keys = [(r["system_id"], r["version"]) for r in await self.pool.fetch(q.SYSTEM_VERSIONS)]
        for key in keys:
            if key not in self._documents:
                raw = await self.pool.fetchval(q.SYSTEM_DOCUMENT, *key)
                self._documents[key] = json.loads(raw) if isinstance(raw, str) else raw
        return [self._documents[key] for key in keys]

    async def chain_links(self, product_ids: Sequence[str]) -> list[Record]:
        return _records(await self.pool.fetch(q.CHAIN_LINKS, list(product_ids)))

    async def organisation(self, organisation_id: str) -> tuple[Record | None, list[Record], list[Record]]:
        async with self.pool.acquire() as conn:
            org = await conn.fetchrow(q.ORGANISATION, organisation_id)
            plants = _records(await conn.fetch(q.PLANTS, organisation_id))
            products = _records(await conn.fetch(q.PRODUCTS_OF, organisation_id))
        return (None if org is None else dict(org)), plants, products

    async def feed(self, pcr_id: str | None, limit: int) -> list[Version]:
        return await self._versions(await self.pool.fetch(q.FEED, pcr_id, limit))

    async def pending(self) -> tuple[list[Version], list[Record]]:
        versions = await self._versions(await self.pool.fetch(q.PENDING))
        return versions, _records(await self.pool.fetch(q.PENDING_EVENTS))
