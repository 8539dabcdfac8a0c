"""The dashboard query checker against a real Prometheus (Debian package): it scrapes a real
/metrics endpoint exporting some of the platform's metrics, and queries_without_data reports exactly
the queries on metrics that endpoint does not export. The e2e run uses the same function on the
whole pipeline."""

from __future__ import annotations

import socket
import sys
import time
import urllib.error

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from epd_common.metrics import FRESHNESS_BUCKETS
from epd_devstack.prometheus import Prometheus
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "deploy" / "grafana"))
import queries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("query-check")
    registry = CollectorRegistry()
    Counter("epd_publisher_events_published_total", "events", registry=registry).inc(3)
    Histogram(
        "epd_publisher_publication_freshness_seconds", "freshness", buckets=FRESHNESS_BUCKETS, registry=registry
    ).observe(2.0)
    metrics_port = free_port()
    server, thread = start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: publisher
    static_configs: [{{targets: ["127.0.0.1:{metrics_port}"]}}]
""")
    prom = Prometheus(tmp_path / "prom", port=free_port(), config=config)
    prom.start()
    try:
        deadline = time.monotonic() + 60
        # rate() needs two samples: wait for three scrapes.
        while not queries.instant_query(prom.url, 'count_over_time(up{job="publisher"}[1m]) >= 3'):
            assert time.monotonic() < deadline, "Prometheus never scraped the test endpoint"
            time.sleep(0.5)
        yield prom
    finally:
        prom.stop()
        server.shutdown()
        thread.join(timeout=5)


def test_reports_queries_on_metrics_nobody_exports(prometheus):
    present = queries.Query("test / events", "sum(epd_publisher_events_published_total)")
    histogram = queries.Query("test / freshness", 'sum(epd_publisher_publication_freshness_seconds_bucket{le="+Inf"})')
    absent = queries.Query("test / missing", "sum(rate(epd_publisher_dead_letters_total[$__rate_interval]))")
    assert queries.queries_without_data(prometheus.url, [present, histogram, absent]) == [absent]


def test_the_freshness_slo_rules_match_the_bucket_labels_prometheus_client_writes(prometheus):
    """prometheus_client exports le="60.0", not le="60": the SLO rules must see the bucket."""
    slo = [q for q in queries.recording_rule_queries() if "error_ratio_rate5m" in q.source]
    assert slo and queries.queries_without_data(prometheus.url, slo) == []
    selector = slo[0].expr.split("rate(", 1)[1].split("[", 1)[0]
    (bucket,) = queries.instant_query(prometheus.url, selector)
    assert bucket["metric"]["le"] == "60.0" and bucket["value"][1] == "1"  # the 2 s observation


def test_incident_only_queries_can_be_excused(prometheus):
    absent = queries.Query("test / dead letters", "sum(epd_publisher_dead_letters_total)", incident=True)
    assert queries.queries_without_data(prometheus.url, [absent]) == [absent]
    assert queries.queries_without_data(prometheus.url, [absent], include_incidents=False) == []


def test_a_query_error_is_raised_not_reported_as_empty(prometheus):
    # Prometheus answers a query it cannot parse with HTTP 400 (an error status in a 200 raises RuntimeError).
    with pytest.raises((urllib.error.HTTPError, RuntimeError)):
        queries.queries_without_data(prometheus.url, [queries.Query("test / bad", "sum(rate(x[1m])")])


def test_every_real_query_evaluates_without_error(prometheus):
    """All dashboard and recording-rule queries run on a live server (most return nothing here)."""
    empty = queries.queries_without_data(prometheus.url)
    listed = queries.all_queries()
    assert len(empty) < len(listed)
    assert not any("events_published" in q.expr and "rate(" not in q.expr for q in empty)
