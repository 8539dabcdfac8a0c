"""SQL of partners, their endpoints and the queueing of deliveries (tables of migrations 0003_publisher and
0005_publisher_secrets): fanout.FanoutStore for PostgreSQL, and the statements behind partners.py's
registration, listing and dead-letter replay. Rules (what is valid, what is delivered) are not here."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic import ValidationError

from epd_publisher.fanout import NewDelivery, PartnerTargets
from epd_records.recognition import DeliveryFormat, RecognitionAgreement

if TYPE_CHECKING:
    from epd_publisher.partners import EndpointSpec

log = logging.getLogger(__name__)

_TARGETS = """
    SELECT p.partner_id, p.agreement::text AS agreement,
           array_remove(array_agg(e.endpoint_id ORDER BY e.endpoint_id), NULL) AS endpoints
    FROM partners p LEFT JOIN partner_endpoints e ON e.partner_id = p.partner_id AND e.disabled_at IS NULL
    WHERE p.disabled_at IS NULL GROUP BY p.partner_id, p.agreement::text ORDER BY p.partner_id"""
_NEW_DELIVERY = """
    INSERT INTO deliveries (event_id, endpoint_id, partner_id, product_id, product_sequence, payload, next_attempt_at)
    VALUES ($1::uuid, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, endpoint_id) DO NOTHING"""
_UPSERT_PARTNER = """
    INSERT INTO partners (partner_id, name, country, agreement) VALUES ($1, $2, $3, $4::jsonb)
    ON CONFLICT (partner_id) DO UPDATE SET name = excluded.name, country = excluded.country,
                                           agreement = excluded.agreement"""
_UPSERT_ENDPOINT = """
    INSERT INTO partner_endpoints (endpoint_id, partner_id, url, format, signing, secret_sealed, token_url,
                                   client_id, client_secret_sealed, allow_private)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (endpoint_id) DO UPDATE SET
        url = excluded.url, format = excluded.format, signing = excluded.signing,
        secret_sealed = excluded.secret_sealed, token_url = excluded.token_url, client_id = excluded.client_id,
        client_secret_sealed = excluded.client_secret_sealed, allow_private = excluded.allow_private,
        disabled_at = NULL, disabled_reason = NULL
    WHERE partner_endpoints.partner_id = excluded.partner_id"""
_ENABLED_SECRETS = """
    SELECT endpoint_id, secret_sealed, client_secret_sealed FROM partner_endpoints
    WHERE disabled_at IS NULL ORDER BY endpoint_id"""
_LISTING = """
    SELECT p.partner_id, p.name, p.country, p.disabled_at IS NOT NULL AS partner_disabled,
           e.endpoint_id, e.url, e.format, e.signing, e.allow_private, e.disabled_at, e.disabled_reason,
           (SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.endpoint_id AND d.state = 'pending')
               AS pending,
           (SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.endpoint_id AND d.state = 'dead')
               AS dead
    FROM partners p LEFT JOIN partner_endpoints e USING (partner_id)
    ORDER BY p.partner_id, e.endpoint_id"""
_PARTNER_DISABLED = """
    UPDATE partners SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
    WHERE partner_id = $1"""
_REQUEUE_DEAD = """
    UPDATE deliveries d SET state = 'pending', attempts = 0, first_attempt_at = NULL, next_attempt_at = $1,
                            finished_at = NULL
    FROM partner_endpoints e
    WHERE e.endpoint_id = d.endpoint_id AND e.disabled_at IS NULL AND d.state = 'dead'
      AND ($2::text IS NULL OR d.partner_id = $2) AND ($3::text IS NULL OR d.endpoint_id = $3)"""


class PgFanoutStore:
    """fanout.FanoutStore in the caller's connection (and transaction), or on a pool."""

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn

    async def targets(self) -> list[PartnerTargets]:
        out = []
        for r in await self.conn.fetch(_TARGETS):
            try:
                agreement = RecognitionAgreement.model_validate(json.loads(r["agreement"]))
            except (ValidationError, ValueError) as exc:
                log.error(
                    "partner agreement is invalid; partner skipped",
                    extra={"partner_id": r["partner_id"], "error": str(exc)[:500]},
                )
                continue
            if r["endpoints"]:
                out.append(PartnerTargets(agreement, tuple(r["endpoints"])))
        return out

    async def create_delivery(self, delivery: NewDelivery) -> bool:
        d = delivery
        status = await self.conn.execute(
            _NEW_DELIVERY,
            d.event_id,
            d.endpoint_id,
            d.partner_id,
            d.product_id,
            d.product_sequence,
            d.payload,
            d.next_attempt_at,
        )
        return status.endswith(" 1")


async def registered_pcrs(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """PCR id -> its registered versions (the footprint admin API registers them)."""
    out: dict[str, list[str]] = {}
    for r in await pool.fetch("SELECT pcr_id, version FROM pcrs ORDER BY pcr_id, version"):
        out.setdefault(r["pcr_id"], []).append(r["version"])
    return out


async def upsert_partner(pool: asyncpg.Pool, partner_id: str, name: str, country: str, agreement_json: str) -> None:
    await pool.execute(_UPSERT_PARTNER, partner_id, name, country, agreement_json)


async def upsert_endpoint(
    pool: asyncpg.Pool, spec: EndpointSpec, secret_sealed: bytes | None, client_secret_sealed: bytes | None
) -> bool:
    """Insert or replace (and enable) the endpoint; False when its id belongs to another partner."""
    status = await pool.execute(
        _UPSERT_ENDPOINT,
        spec.endpoint_id,
        spec.partner_id,
        spec.url,
        DeliveryFormat(spec.format).value,
        spec.signing,
        secret_sealed,
        spec.token_url,
        spec.client_id,
        client_secret_sealed,
        spec.allow_private,
    )
    return not status.endswith(" 0")


async def enabled_endpoint_secrets(pool: asyncpg.Pool) -> list[tuple[str, bytes | None, bytes | None]]:
    """(endpoint id, sealed signing secret, sealed client secret) of every enabled endpoint."""
    rows = await pool.fetch(_ENABLED_SECRETS)
    return [(r["endpoint_id"], r["secret_sealed"], r["client_secret_sealed"]) for r in rows]


async def partner_listing(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(_LISTING)]


async def set_partner_disabled(pool: asyncpg.Pool, partner_id: str, disabled: bool) -> bool:
    """Disable (keeping the first time) or enable the partner; False when there is no such partner."""
    return not (await pool.execute(_PARTNER_DISABLED, partner_id, disabled)).endswith(" 0")


async def requeue_dead_letters(
    pool: asyncpg.Pool, now: datetime, partner_id: str | None, endpoint_id: str | None
) -> int:
    status = await pool.execute(_REQUEUE_DEAD, now, partner_id, endpoint_id)
    return int(status.split()[-1])
