"""Load factor sets into PostgreSQL, idempotently: a loaded version is immutable.

Loading a version again with the same content is a no-op; with different content (a data file
changed under a published version) it is refused with FactorSetConflict: publish a new version.
The content hash is SHA-256 over a canonical JSON of the parsed set (so formatting and comments
in the YAML do not matter, values do).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import asyncpg

from epd_common.db import transaction
from epd_intensity.errors import IntensityError
from epd_intensity.factors.model import FactorSet


class FactorSetConflict(IntensityError):
    """The version is loaded already with different content."""


@dataclass(frozen=True)
class LoadResult:
    version: str
    status: str  # "loaded" | "unchanged"
    factors: int


def content_hash(factor_set: FactorSet) -> str:
    doc = {
        "version": factor_set.version,
        "windows_from": factor_set.windows_from.isoformat(),
        "default_gwp_set": factor_set.default_gwp_set,
        "year_fallback_max": factor_set.year_fallback_max,
        "factors": sorted(
            [
                f.id,
                f.activity,
                f.source,
                f.unit,
                f.region,
                f.year_from,
                f.year_to,
                {g: str(v) for g, v in sorted(f.gases.items())},
                None if f.co2e is None else str(f.co2e),
                f.citation,
                f.default,
                f.note,
            ]
            for f in factor_set.factors
        ),
        "gwp": {
            n: [g.citation, {k: str(v) for k, v in sorted(g.values.items())}, sorted(g.unchecked)]
            for n, g in sorted(factor_set.gwp_sets.items())
        },
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def load_factor_set(pool: asyncpg.Pool, factor_set: FactorSet) -> LoadResult:
    digest = content_hash(factor_set)
    async with transaction(pool) as conn:
        # Serialise concurrent loads of the same version.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('factor_set:' || $1))", factor_set.version)
        existing = await conn.fetchval("SELECT content_sha256 FROM factor_sets WHERE version = $1", factor_set.version)
        if existing == digest:
            return LoadResult(factor_set.version, "unchanged", len(factor_set.factors))
        if existing is not None:
            raise FactorSetConflict(
                f"factor set {factor_set.version} is loaded with content {existing[:12]}…, the files give "
                f"{digest[:12]}…: a loaded version is immutable; publish the change as a new version"
            )
        await conn.execute(
            "INSERT INTO factor_sets (version, windows_from, default_gwp_set, year_fallback_max, content_sha256) "
            "VALUES ($1, $2, $3, $4, $5)",
            factor_set.version,
            factor_set.windows_from,
            factor_set.default_gwp_set,
            factor_set.year_fallback_max,
            digest,
        )
        await conn.executemany(
            "INSERT INTO emission_factors (set_version, factor_id, activity, source, unit, region, year_from, "
            "year_to, gases, co2e, citation, is_default, note) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10,$11,$12,$13)",
            [
                (
                    factor_set.version,
                    f.id,
                    f.activity,
                    f.source,
                    f.unit,
                    f.region,
                    f.year_from,
                    f.year_to,
                    json.dumps({g: str(v) for g, v in f.gases.items()}),
                    f.co2e,
                    f.citation,
                    f.default,
                    f.note,
                )
                for f in factor_set.factors
            ],
        )
        await conn.executemany(
            "INSERT INTO gwp_values (set_version, gwp_set, gas, value, citation, checked) VALUES ($1,$2,$3,$4,$5,$6)",
            [
                (factor_set.version, g.name, gas, value, g.citation, gas not in g.unchecked)
                for g in factor_set.gwp_sets.values()
                for gas, value in g.values.items()
            ],
        )
    return LoadResult(factor_set.version, "loaded", len(factor_set.factors))
