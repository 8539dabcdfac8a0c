"""Product category rules for tests: EPD series must name a registered PCR version (migration 0007),
and recognition agreements are checked against registered PCRs."""

from __future__ import annotations

from datetime import date
from typing import Any

#: A PCR version as POST /pcrs takes it: rare-earth products per kg, A1-A3, AR6, EN 15804+A2 / ISO 14025.
PCR = {
    "pcr_id": "pcr-rare-earths",
    "version": "1.0",
    "name": "Rare-earth concentrates, oxides, metals and magnets",
    "operator": "Other",
    "operator_name": "National Rare-Earth EPD Programme",
    "valid_from": "2020-01-01",
    "valid_until": "2035-01-01",
    "declared_unit": {"amount": "1", "unit": "kg"},
    "modules": ["A1", "A2", "A3", "A1-A3"],
    "cut_off_rule": "1 % of mass and primary energy per unit process, 5 % per module (EN 15804+A2 6.3.6)",
    "allocation_methods": ["mass", "economic", "explicit"],
    "gwp_set": "AR6",
    "standards": ["EN 15804+A2", "ISO 14025"],
}


def pcr(pcr_id: str = "pcr-rare-earths", version: str = "1.0", **changes: Any) -> dict[str, Any]:
    return {**PCR, "pcr_id": pcr_id, "version": version, **changes}


async def register_pcrs(conn: Any, *ids: tuple[str, str]) -> None:
    """Insert PCR versions (pcr_id, version) with PCR's rules directly, skipping those that exist."""
    for pcr_id, version in ids:
        await conn.execute(
            """INSERT INTO pcrs (pcr_id, version, name, operator, operator_name, valid_from, valid_until,
                   declared_unit_amount, declared_unit, modules, cut_off_rule, allocation_methods, gwp_set, standards)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 'kg', $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING""",
            pcr_id,
            version,
            PCR["name"],
            PCR["operator"],
            PCR["operator_name"],
            date.fromisoformat(PCR["valid_from"]),
            date.fromisoformat(PCR["valid_until"]),
            PCR["modules"],
            PCR["cut_off_rule"],
            PCR["allocation_methods"],
            PCR["gwp_set"],
            PCR["standards"],
        )
