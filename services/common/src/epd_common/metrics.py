"""Prometheus helpers. Names follow `epd_<component>_<thing>_<unit>`; counters end in `_total`;
labels are bounded (reason codes, outcomes, partner ids from configuration; never plant-supplied text).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server


def start_metrics_server(port: int, registry: CollectorRegistry = REGISTRY) -> None:
    """Serve /metrics on 0.0.0.0:port in a background thread; port 0 means metrics are off."""
    if port:
        start_http_server(port, registry=registry)


# Freshness buckets in seconds, shared by every hop (reading → window → version → publication → delivery).
FRESHNESS_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
