"""Partners and their endpoints (registration with the SSRF guard and sealed secrets), the fan-out of
change events into deliveries on PostgreSQL, and the replay of dead letters. The SQL is in
pg_partners.py; the fan-out rules are in fanout.py.

Fan-out source: the change feed (``epd.footprint.changes.v1``), read with the subscriber library
under its own consumer group (``<prefix>epd-publisher-partners``) and positions (subscriber name
``partner-fanout``). The deliveries of one event are inserted in the transaction that advances the
subscriber position, and ``deliveries`` is unique per (event, endpoint): a re-consumed event never
creates a second delivery. Reading the feed rather than the outbox keeps the relay the only outbox
poller and lets the fan-out run anywhere that can reach Kafka and the delivery tables.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from aiokafka import AIOKafkaConsumer

from epd.v1 import footprint_pb2
from epd_common.db import TRANSIENT_ERRORS
from epd_common.dead_letters import DeadLetterSink
from epd_common.lag import ConsumerLag
from epd_publisher import fanout, pg_partners
from epd_publisher.clock import Clock
from epd_publisher.delivery import ssrf
from epd_publisher.delivery.webhooks import Ed25519Signer, HmacSigner
from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn, SecretKeyError
from epd_publisher.errors import AgreementError, EndpointError
from epd_publisher.fanout import PartnerTargets
from epd_publisher.outbox import matches_outbox
from epd_publisher.pg_partners import PgFanoutStore
from epd_publisher.subscriber import PgSequenceStore, Subscriber
from epd_records.recognition import DeliveryFormat, RecognitionAgreement, unknown_pcr_rules

SIGNING = ("hmac", "ed25519", "none")
FANOUT_SUBSCRIBER = "partner-fanout"  # the fan-out's position name in subscriber_positions


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
    problems = unknown_pcr_rules(agreement, await pg_partners.registered_pcrs(pool))
    if problems:
        raise AgreementError("the agreement names PCRs that are not registered: " + "; ".join(problems))
    await pg_partners.upsert_partner(pool, partner_id, name, country, agreement.model_dump_json())


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
    saved = await pg_partners.upsert_endpoint(
        pool,
        spec,
        secrets.seal(spec.endpoint_id, SecretColumn.WEBHOOK, spec.secret),
        secrets.seal(spec.endpoint_id, SecretColumn.CLIENT, spec.client_secret),
    )
    if not saved:
        raise EndpointError(f"endpoint {spec.endpoint_id!r} belongs to another partner")


async def undecryptable_endpoints(pool: asyncpg.Pool, secrets: EndpointSecrets) -> list[str]:
    """Enabled endpoints whose stored secrets do not open with ``secrets`` (a wrong or changed key)."""
    bad = []
    for endpoint_id, secret_sealed, client_secret_sealed in await pg_partners.enabled_endpoint_secrets(pool):
        try:
            secrets.open(endpoint_id, SecretColumn.WEBHOOK, secret_sealed)
            secrets.open(endpoint_id, SecretColumn.CLIENT, client_secret_sealed)
        except SecretKeyError:
            bad.append(endpoint_id)
    return bad


async def list_partners(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Partners with their endpoints (one row per endpoint), state and queue sizes."""
    return await pg_partners.partner_listing(pool)


async def load_targets(conn: asyncpg.Connection | asyncpg.Pool) -> list[PartnerTargets]:
    """Enabled partners with a valid agreement and their enabled endpoints."""
    return await PgFanoutStore(conn).targets()


async def fan_out(
    conn: asyncpg.Connection, event: footprint_pb2.FootprintChanged, targets: list[PartnerTargets], now: datetime
) -> int:
    """fanout.fan_out in ``conn``'s transaction: the deliveries of one change event; returns how many were new."""
    return await fanout.fan_out(PgFanoutStore(conn), event, targets, now)


async def set_partner_enabled(pool: asyncpg.Pool, partner_id: str, enabled: bool) -> None:
    """Enable or disable a partner (operator decision). A disabled partner gets no new deliveries (fan-out
    skips it), its pending ones are held (the sender does not claim them) and go out when it is enabled
    again; the gateway refuses its clients (403) and the request worker answers none of their requests."""
    if not await pg_partners.set_partner_disabled(pool, partner_id, not enabled):
        raise EndpointError(f"no partner {partner_id!r}")


def fanout_subscriber(
    consumer: AIOKafkaConsumer,
    pool: asyncpg.Pool,
    clock: Clock,
    *,
    dead_letters: DeadLetterSink | None,
    attempts: int = 5,
    lag: ConsumerLag | None = None,
    authenticate: bool = True,
) -> Subscriber:
    """The partner fan-out as a change-feed subscriber (position ``partner-fanout``): each event's deliveries
    in the transaction of its position. An event whose fan-out fails ``attempts`` times (not for a database
    outage) goes to ``dead_letters`` with the reason and the fan-out moves on. Only events equal to an
    outbox row are fanned out (pg_deliveries.matches_outbox): anything else on the topic was not written
    by the footprint service and is never signed or delivered (``authenticate=False`` only for tests of
    the fan-out's own failures)."""

    async def on_event(event: footprint_pb2.FootprintChanged, conn: asyncpg.Connection) -> None:
        store = PgFanoutStore(conn)
        await fanout.fan_out(store, event, await store.targets(), clock.now())

    return Subscriber(
        consumer,
        PgSequenceStore(pool, FANOUT_SUBSCRIBER),
        on_event,
        name=FANOUT_SUBSCRIBER,
        lag=lag,
        handler_retries=attempts,
        dead_letters=dead_letters,
        transient=TRANSIENT_ERRORS,
        authentic=(lambda event: matches_outbox(pool, event)) if authenticate else None,
    )


async def replay_dead_letters(
    pool: asyncpg.Pool, now: datetime, *, partner_id: str | None = None, endpoint_id: str | None = None
) -> int:
    """Put dead deliveries of enabled endpoints back in the queue with a fresh retry budget; returns how many."""
    return await pg_partners.requeue_dead_letters(pool, now, partner_id, endpoint_id)
