"""Connector metrics (module level, registered once per process). Labels are bounded: source names."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

READINGS_RECEIVED = Counter("epd_connector_readings_received_total", "Readings read from a source", ["source"])
SOURCE_ERRORS = Counter("epd_connector_source_errors_total", "Source input refused at the edge", ["source", "reason"])
BATCHES_SPOOLED = Counter("epd_connector_batches_spooled_total", "Signed batches written to the spool")
BATCHES_SENT = Counter("epd_connector_batches_sent_total", "Batches acknowledged by the broker")
SEND_FAILURES = Counter("epd_connector_send_failures_total", "Send rounds that failed and will be retried")
SPOOL_FULL = Counter("epd_connector_spool_full_total", "Spool appends refused because the spool was full")
SPOOL_DEPTH = Gauge("epd_connector_spool_depth_batches", "Batches in the spool awaiting a broker ack")
SPOOL_AGE = Gauge("epd_connector_spool_age_seconds", "Age of the oldest unacked batch in the spool")
SPOOL_FILL = Gauge("epd_connector_spool_fill_ratio", "Spool bytes used / bound (alarm before 1.0)")
SPOOL_ALARM = Gauge("epd_connector_spool_alarm", "1 when the fill ratio is at or above the configured alarm ratio")
SEND_LATENCY = Histogram(
    "epd_connector_send_latency_seconds",
    "Spool-to-ack latency of a batch",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
SOURCE_CONNECTED = Gauge("epd_connector_source_connected", "1 while the source is connected", ["source"])
KEY_CHANGES = Counter("epd_connector_key_changes_total", "Signing key switched to a new key file (rotation)")
KEY_RELOAD_FAILURES = Counter(
    "epd_connector_key_reload_failures_total", "Changed key file not taken (unreadable, or against a pinned key id)"
)
# Plant input refused for who sent it, before it was read: reason is one of push_auth's codes (HTTP) or
# not_authorized / tls_failed / subscribe_refused (MQTT connects and subscriptions the broker refused).
INPUT_REFUSED = Counter(
    "epd_connector_input_refused_total", "Plant input refused: no, wrong or revoked credential", ["source", "reason"]
)
