"""The publisher's Prometheus metrics (names ``epd_publisher_*``; labels bounded: partner ids come
from configuration, outcomes from a fixed set)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from epd_common.metrics import FRESHNESS_BUCKETS

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
