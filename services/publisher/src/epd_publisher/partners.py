"""Partners and their endpoints (registration with the SSRF guard), fan-out of change events into
deliveries, and the replay of dead letters.

Fan-out source: the change feed (``epd.footprint.changes.v1``), read with the subscriber library
under its own consumer group (``<prefix>epd-publisher-partners``) and positions (subscriber name
``partner-fanout``). The deliveries of one event are inserted in the transaction that advances the
subscriber position, and ``deliveries`` is unique per (event, endpoint): a re-consumed event never
creates a second delivery. Reading the feed rather than the outbox keeps the relay the only outbox
poller and lets the fan-out run anywhere that can reach Kafka and the delivery tables.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import asyncpg
from pydantic import ValidationError

from epd.v1 import footprint_pb2
from epd_publisher.delivery import ssrf
from epd_publisher.delivery.webhooks import Ed25519Signer, HmacSigner
from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn, SecretKeyError
from epd_publisher.errors import EndpointError
from epd_records.recognition import DeliveryFormat, RecognitionAgreement, delivers

log = logging.getLogger(__name__)
SIGNING = ("hmac", "ed25519", "none")


@dataclass(frozen=True)
class EndpointSpec:
    endpoint_id: str
    partner_id: str
    url: str
    format: DeliveryFormat
    signing: str = "hmac"
    secret: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    allow_private: bool = False


def allow_hosts(url: str, allow_private: bool) -> Collection[str]:
    """An endpoint registered with ``allow_private`` allow-lists exactly its own host."""
    if not allow_private:
        return ()
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return ()
    return (host,) if host else ()


def guard(url: str, allow_private: bool, resolver: ssrf.Resolver) -> ssrf.GuardedUrl:
    return ssrf.check_url(url, resolver=resolver, allow_hosts=allow_hosts(url, allow_private))


def validate_endpoint(spec: EndpointSpec, resolver: ssrf.Resolver) -> None:
    """Raise a PublisherError (UnsafeUrlError for URLs) with the reason when the endpoint is unusable."""
    try:
        DeliveryFormat(spec.format)
    except ValueError:
        raise EndpointError(f"format must be one of {[f.value for f in DeliveryFormat]}") from None
    guard(spec.url, spec.allow_private, resolver)
    if spec.signing not in SIGNING:
        raise EndpointError(f"signing must be one of {SIGNING}")
    if spec.signing == "hmac":
        HmacSigner(spec.secret or "")
    elif spec.signing == "ed25519":
        Ed25519Signer(spec.secret or "")
    if DeliveryFormat(spec.format) is DeliveryFormat.PACT:
        if not (spec.token_url and spec.client_id and spec.client_secret):
            raise EndpointError("pact endpoints need token_url, client_id and client_secret (OAuth2)")
        guard(spec.token_url, spec.allow_private, resolver)


async def add_partner(
    pool: asyncpg.Pool, partner_id: str, name: str, country: str, agreement: RecognitionAgreement
) -> None:
    if agreement.partner_id != partner_id:
        raise EndpointError("agreement partner_id differs from the partner id")
    await pool.execute(
        """INSERT INTO partners (partner_id, name, country, agreement) VALUES ($1, $2, $3, $4::jsonb)
           ON CONFLICT (partner_id) DO UPDATE SET name = excluded.name, country = excluded.country,
                                                  agreement = excluded.agreement""",
        partner_id,
        name,
        country,
        agreement.model_dump_json(),
    )


async def add_endpoint(
    pool: asyncpg.Pool, spec: EndpointSpec, resolver: ssrf.Resolver = ssrf.system_resolver, *, secrets: EndpointSecrets
) -> None:
    """Register an endpoint, its secrets encrypted with ``secrets``; refuses unsafe URLs
    (``ssrf.UnsafeUrlError``) before anything is stored.

    Registering an existing endpoint id again (of the same partner) replaces its URL, format and
    secrets and enables it again: that is how an operator rotates a secret, re-enables an endpoint
    disabled by a 410, or re-registers one disabled by migration 0005 (pending deliveries then go out).
    """
    validate_endpoint(spec, resolver)
    status = await pool.execute(
        """INSERT INTO partner_endpoints (endpoint_id, partner_id, url, format, signing, secret_sealed, token_url,
                                          client_id, client_secret_sealed, allow_private)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (endpoint_id) DO UPDATE SET
               url = excluded.url, format = excluded.format, signing = excluded.signing,
               secret_sealed = excluded.secret_sealed, token_url = excluded.token_url, client_id = excluded.client_id,
               client_secret_sealed = excluded.client_secret_sealed, allow_private = excluded.allow_private,
               disabled_at = NULL, disabled_reason = NULL
           WHERE partner_endpoints.partner_id = excluded.partner_id""",
        spec.endpoint_id,
        spec.partner_id,
        spec.url,
        str(DeliveryFormat(spec.format).value),
        spec.signing,
        secrets.seal(spec.endpoint_id, SecretColumn.WEBHOOK, spec.secret),
        spec.token_url,
        spec.client_id,
        secrets.seal(spec.endpoint_id, SecretColumn.CLIENT, spec.client_secret),
        spec.allow_private,
    )
    if status.endswith(" 0"):
        raise EndpointError(f"endpoint {spec.endpoint_id!r} belongs to another partner")


async def undecryptable_endpoints(pool: asyncpg.Pool, secrets: EndpointSecrets) -> list[str]:
    """Enabled endpoints whose stored secrets do not open with ``secrets`` (a wrong or changed key)."""
    rows = await pool.fetch("""SELECT endpoint_id, secret_sealed, client_secret_sealed FROM partner_endpoints
                               WHERE disabled_at IS NULL ORDER BY endpoint_id""")
    bad = []
    for r in rows:
        try:
            secrets.open(r["endpoint_id"], SecretColumn.WEBHOOK, r["secret_sealed"])
            secrets.open(r["endpoint_id"], SecretColumn.CLIENT, r["client_secret_sealed"])
        except SecretKeyError:
            bad.append(r["endpoint_id"])
    return bad


async def list_partners(pool: asyncpg.Pool) -> list[dict]:
    rows = await pool.fetch(
        """SELECT p.partner_id, p.name, p.country, p.disabled_at IS NOT NULL AS partner_disabled,
                  e.endpoint_id, e.url, e.format, e.signing, e.allow_private, e.disabled_at, e.disabled_reason,
                  (SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.endpoint_id AND d.state = 'pending')
                      AS pending,
                  (SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.endpoint_id AND d.state = 'dead')
                      AS dead
           FROM partners p LEFT JOIN partner_endpoints e USING (partner_id)
           ORDER BY p.partner_id, e.endpoint_id"""
    )
    return [dict(r) for r in rows]


@dataclass(frozen=True)
class PartnerTargets:
    agreement: RecognitionAgreement
    endpoint_ids: tuple[str, ...]


async def load_targets(conn: asyncpg.Connection | asyncpg.Pool) -> list[PartnerTargets]:
    """Enabled partners with a valid agreement and their enabled endpoints."""
    rows = await conn.fetch(
        """SELECT p.partner_id, p.agreement::text AS agreement,
                  array_remove(array_agg(e.endpoint_id ORDER BY e.endpoint_id), NULL) AS endpoints
           FROM partners p LEFT JOIN partner_endpoints e ON e.partner_id = p.partner_id AND e.disabled_at IS NULL
           WHERE p.disabled_at IS NULL GROUP BY p.partner_id, p.agreement::text ORDER BY p.partner_id"""
    )
    out = []
    for r in rows:
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


async def fan_out(
    conn: asyncpg.Connection, event: footprint_pb2.FootprintChanged, targets: list[PartnerTargets], now: datetime
) -> int:
    """Create the deliveries of one change event; returns how many were new."""
    try:
        uuid.UUID(event.event_id)
    except ValueError:
        log.error("change event id is not a UUID; no deliveries", extra={"event_id": event.event_id[:80]})
        return 0
    created = 0
    for target in targets:
        decision = delivers(target.agreement, event)
        if not decision:
            log.debug("not delivered", extra={"partner_id": target.agreement.partner_id, "reason": decision.reason})
            continue
        for endpoint_id in target.endpoint_ids:
            status = await conn.execute(
                """INSERT INTO deliveries (event_id, endpoint_id, partner_id, product_id, product_sequence, payload,
                                           next_attempt_at)
                   VALUES ($1::uuid, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, endpoint_id) DO NOTHING""",
                event.event_id,
                endpoint_id,
                target.agreement.partner_id,
                event.product_id,
                event.product_sequence,
                event.SerializeToString(deterministic=True),
                now,
            )
            created += status.endswith(" 1")
    return created


async def replay_dead_letters(
    pool: asyncpg.Pool, now: datetime, *, partner_id: str | None = None, endpoint_id: str | None = None
) -> int:
    """Put dead deliveries back in the queue with a fresh retry budget; returns how many."""
    status = await pool.execute(
        """UPDATE deliveries d SET state = 'pending', attempts = 0, first_attempt_at = NULL, next_attempt_at = $1,
                                   finished_at = NULL
           FROM partner_endpoints e
           WHERE e.endpoint_id = d.endpoint_id AND e.disabled_at IS NULL AND d.state = 'dead'
             AND ($2::text IS NULL OR d.partner_id = $2) AND ($3::text IS NULL OR d.endpoint_id = $3)""",
        now,
        partner_id,
        endpoint_id,
    )
    return int(status.split()[-1])
