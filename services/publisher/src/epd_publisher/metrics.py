"""The publisher's Prometheus metrics (names ``epd_publisher_*``; labels bounded: partner ids come
from configuration, outcomes from a fixed set)."""

from __future__ import annotations

import time

from google.protobuf.message import DecodeError
from prometheus_client import Counter, Gauge, Histogram

from epd.v1 import footprint_pb2
from epd_common.metrics import FRESHNESS_BUCKETS
from epd_publisher.delivery.retry import AttemptResult

OUTBOX_OLDEST_AGE = Gauge(
    "epd_publisher_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox row"
)
EVENTS_PUBLISHED = Counter("epd_publisher_events_published_total", "Outbox events acknowledged on the change feed")
RELAY_BATCH_SECONDS = Histogram(
    "epd_publisher_relay_batch_duration_seconds",
    "Claim, publish, ack and mark of one relay batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PUBLICATION_FRESHNESS = Histogram(
    "epd_publisher_publication_freshness_seconds",
    "Outbox row written -> acknowledged on the change feed",
    buckets=FRESHNESS_BUCKETS,
)
DELIVERIES = Counter(
    "epd_publisher_deliveries_total", "Finished deliveries by partner and outcome", ["partner", "outcome"]
)
ATTEMPTS = Counter(
    "epd_publisher_delivery_attempts_total", "HTTP delivery attempts by partner and result", ["partner", "result"]
)
DEAD_LETTERS = Counter("epd_publisher_dead_letters_total", "Deliveries moved to the dead letters", ["partner"])
SUBSCRIBER_DUPLICATES = Counter(
    "epd_publisher_subscriber_duplicates_total", "Change-feed events skipped as already applied", ["subscriber"]
)
SUBSCRIBER_MALFORMED = Counter(
    "epd_publisher_subscriber_malformed_total", "Change-feed records that are not FootprintChanged", ["subscriber"]
)
SUBSCRIBER_UNMATCHED = Counter(
    "epd_publisher_subscriber_unmatched_total",
    "Change-feed events that match no outbox row (forged or altered): set aside, never delivered",
    ["subscriber"],
)
OUTBOX_MALFORMED = Counter(
    "epd_publisher_outbox_malformed_total", "Outbox rows whose payload is not a FootprintChanged (not published)"
)
DELIVERY_FRESHNESS = Histogram(
    "epd_publisher_delivery_freshness_seconds",
    "Footprint version created -> delivered to a partner endpoint",
    buckets=FRESHNESS_BUCKETS,
)
SECRET_ERRORS = Counter(
    "epd_publisher_endpoint_secret_errors_total",
    "Delivery attempts deferred because the endpoint's stored secret does not decrypt (wrong EPD_PUBLISHER_SECRET_KEY)",
    ["partner"],
)
LEASES_LOST = Counter(
    "epd_publisher_delivery_leases_lost_total",
    "Delivery outcomes not written because the sender's lease had run out (another sender owns the delivery)",
    ["partner"],
)


def attempt_label(result: AttemptResult) -> str:
    """Bounded label: 2xx/3xx/4xx/5xx, a transport error name, or 'none' (render failures)."""
    if result.status:
        return f"{result.status // 100}xx"
    return result.error.value if result.error else "none"


def observe_delivery_freshness(payload: bytes) -> None:
    """Version created -> delivered, from the event's footprint.created_at (wall clock, not the test clock)."""
    try:
        created = footprint_pb2.FootprintChanged.FromString(payload).footprint.created_at
    except DecodeError:
        return
    if created.seconds:
        DELIVERY_FRESHNESS.observe(max(0.0, time.time() - created.ToNanoseconds() / 1e9))
