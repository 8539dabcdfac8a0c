"""The four operator dashboards. Every metric named here is defined by a service (checked by
tests/unit/deploy/test_deploy_metric_names.py); recording rules (epd:...) come from deploy/prometheus/rules."""

from __future__ import annotations

from grafana_model import SERVICES, Dashboard, Panel, Q, Row, quantile, rate

R = "$__rate_interval"

UP = Panel(
    "Services up",
    (Q(f'up{{job=~"{SERVICES}"}}', "{{job}}"),),
    kind="stat",
    width=24,
    description="1 when Prometheus scrapes the service's /metrics",
)

PIPELINE = Dashboard(
    uid="epd-pipeline-overview",
    title="EPD pipeline overview",
    description="Readings to footprint versions to deliveries: throughput, rejects, lag, freshness.",
    rows=(
        Row("Health", (UP,)),
        Row(
            "Telemetry",
            (
                Panel(
                    "Readings/s",
                    (
                        Q(rate("epd_connector_readings_received_total"), "read by connectors"),
                        Q(rate("epd_ingest_readings_accepted_total"), "accepted by ingest"),
                        Q(rate("epd_ingest_readings_rejected_total"), "rejected by ingest", incident=True),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Rejected ratio (5m)",
                    (Q("epd:ingest_rejected:ratio_rate5m", "rejected"),),
                    unit="percentunit",
                    kind="stat",
                    width=6,
                ),
                Panel(
                    "Ingest lag",
                    (Q("max(epd_ingest_lag_seconds)", "age of last raw record"),),
                    unit="s",
                    width=6,
                    description="Age of the raw record ingest processed last",
                ),
                Panel(
                    "Consumer lag (messages)",
                    (Q("sum by (component, topic) (epd_consumer_lag_messages)", "{{component}} {{topic}}"),),
                    width=24,
                    description="High watermark minus position, summed over each consumer's partitions",
                ),
            ),
        ),
        Row(
            "Footprints",
            (
                Panel(
                    "Intensity windows/s",
                    (
                        Q("sum(epd:intensity_windows:rate5m)", "emitted by intensity"),
                        Q(rate("epd_footprint_windows_total"), "applied by footprint"),
                    ),
                    unit="reqps",
                    width=8,
                ),
                Panel(
                    "Drift evaluations/s",
                    (Q(rate("epd_footprint_drift_evaluations_total"), "evaluations"),),
                    unit="reqps",
                    width=8,
                ),
                Panel(
                    "Drift versions (1h)",
                    (
                        Q(
                            "sum by (cause) (increase(epd_footprint_versions_created_total[1h]))",
                            "{{cause}}",
                            incident=True,
                        ),
                    ),
                    width=8,
                    description="Provisional versions created by the drift rule and its cascade",
                ),
            ),
        ),
        Row(
            "Publishing",
            (
                Panel(
                    "Change-feed events/s",
                    (Q(rate("epd_publisher_events_published_total"), "published"),),
                    unit="reqps",
                    width=8,
                ),
                Panel(
                    "Deliveries/s by outcome",
                    (Q(rate("epd_publisher_deliveries_total", "outcome"), "{{outcome}}", incident=True),),
                    unit="reqps",
                    width=8,
                ),
                Panel(
                    "Oldest unpublished outbox row",
                    (Q("max(epd_publisher_outbox_oldest_unpublished_age_seconds)", "age"),),
                    unit="s",
                    width=8,
                ),
                Panel(
                    "Freshness per hop (p95)",
                    (
                        Q(quantile(0.95, "epd_intensity_window_freshness_seconds"), "window end -> window emitted"),
                        Q(
                            quantile(0.95, "epd_footprint_version_freshness_seconds"),
                            "window end -> version created",
                            incident=True,
                        ),
                        Q(quantile(0.95, "epd_publisher_publication_freshness_seconds"), "outbox -> change feed"),
                        Q(
                            quantile(0.95, "epd_publisher_delivery_freshness_seconds"),
                            "version created -> partner delivery",
                            incident=True,
                        ),
                    ),
                    unit="s",
                    width=12,
                ),
                Panel(
                    "Publication freshness SLO error ratio",
                    (
                        Q("epd:publication_freshness:error_ratio_rate1h", "1h"),
                        Q("epd:publication_freshness:error_ratio_rate6h", "6h"),
                    ),
                    unit="percentunit",
                    width=12,
                    description="Share of publications later than 60 s; the SLO allows 1%",
                ),
            ),
        ),
    ),
)


def _resources(job: str) -> Panel:
    return Panel(
        "CPU and memory",
        (
            Q(f'rate(process_cpu_seconds_total{{job="{job}"}}[{R}])', "cpu s/s"),
            Q(f'process_resident_memory_bytes{{job="{job}"}}', "rss bytes"),
        ),
        width=6,
    )


RED = Dashboard(
    uid="epd-red",
    title="EPD services: rate, errors, duration",
    description="One row per service: what it handles per second, what fails, how long it takes.",
    rows=(
        Row("All", (UP,)),
        Row(
            "connector",
            (
                Panel(
                    "Batches/s",
                    (
                        Q(rate("epd_connector_batches_sent_total"), "sent"),
                        Q(rate("epd_connector_batches_spooled_total"), "spooled"),
                    ),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "Errors/s",
                    (
                        Q(rate("epd_connector_send_failures_total"), "send failures"),
                        Q(rate("epd_connector_source_errors_total", "reason"), "{{reason}}", incident=True),
                    ),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "Send latency",
                    (
                        Q(quantile(0.5, "epd_connector_send_latency_seconds"), "p50"),
                        Q(quantile(0.95, "epd_connector_send_latency_seconds"), "p95"),
                    ),
                    unit="s",
                    width=6,
                ),
                _resources("connector"),
            ),
        ),
        Row(
            "ingest",
            (
                Panel("Raw records/s", (Q(rate("epd_ingest_batches_total"), "records"),), unit="reqps", width=6),
                Panel(
                    "Rejected readings/s",
                    (Q(rate("epd_ingest_readings_rejected_total", "reason"), "{{reason}}", incident=True),),
                    unit="reqps",
                    width=6,
                ),
                Panel("Lag", (Q("max(epd_ingest_lag_seconds)", "lag"),), unit="s", width=6),
                _resources("ingest"),
            ),
        ),
        Row(
            "intensity",
            (
                Panel(
                    "Readings and windows/s",
                    (
                        Q(rate("epd_intensity_readings_total"), "readings"),
                        Q(rate("epd_intensity_source_records_total"), "records (ReadingBatch)"),
                        Q(rate("epd_intensity_windows_emitted_total"), "windows"),
                    ),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "Readings not stored/s",
                    (
                        Q(
                            rate("epd_intensity_readings_total", "outcome", '{outcome!~"accepted|late_revision"}'),
                            "{{outcome}}",
                            incident=True,
                        ),
                        Q(
                            rate("epd_intensity_source_records_total", "outcome", '{outcome="malformed"}'),
                            "malformed records",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "Window freshness p95",
                    (Q(quantile(0.95, "epd_intensity_window_freshness_seconds", "size"), "{{size}}"),),
                    unit="s",
                    width=6,
                ),
                _resources("intensity"),
            ),
        ),
        Row(
            "footprint",
            (
                Panel("Windows/s", (Q(rate("epd_footprint_windows_total"), "windows"),), unit="reqps", width=6),
                Panel(
                    "Rejected windows/s",
                    (
                        Q(
                            rate("epd_footprint_windows_total", "outcome", '{outcome=~"rejected.*"}'),
                            "{{outcome}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "Window apply time",
                    (
                        Q(quantile(0.5, "epd_footprint_window_apply_seconds"), "p50"),
                        Q(quantile(0.95, "epd_footprint_window_apply_seconds"), "p95"),
                    ),
                    unit="s",
                    width=6,
                ),
                _resources("footprint"),
                Panel(
                    "Admin API requests/s by route and status",
                    (
                        Q(
                            rate("epd_footprint_admin_http_requests_total", "route, status"),
                            "{{route}} {{status}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                    width=12,
                    description="Operator calls (register, import, approve, ...); empty until someone uses the API",
                ),
                Panel(
                    "Admin API duration p95 by route",
                    (
                        Q(
                            quantile(0.95, "epd_footprint_admin_http_request_duration_seconds", "route"),
                            "{{route}}",
                            incident=True,
                        ),
                    ),
                    unit="s",
                    width=12,
                ),
            ),
        ),
        Row(
            "publisher",
            (
                Panel(
                    "Events and attempts/s",
                    (
                        Q(rate("epd_publisher_events_published_total"), "events"),
                        Q(rate("epd_publisher_delivery_attempts_total"), "attempts", incident=True),
                    ),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "Failed deliveries/s",
                    (
                        Q(
                            rate("epd_publisher_deliveries_total", "outcome", '{outcome!="delivered"}'),
                            "{{outcome}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "Relay batch time",
                    (Q(quantile(0.95, "epd_publisher_relay_batch_duration_seconds"), "p95"),),
                    unit="s",
                    width=6,
                ),
                _resources("publisher"),
            ),
        ),
        Row(
            "gateway",
            (
                Panel(
                    "Requests answered/s",
                    (Q(rate("epd_gateway_requests_answered_total", "outcome"), "{{outcome}}", incident=True),),
                    unit="reqps",
                    width=9,
                ),
                Panel(
                    "Unmappable records/s",
                    (Q(rate("epd_gateway_unmappable_records_total"), "skipped"),),
                    unit="reqps",
                    width=9,
                ),
                _resources("gateway"),
                Panel(
                    "HTTP requests/s by route and status",
                    (Q(rate("epd_gateway_http_requests_total", "route, status"), "{{route}} {{status}}"),),
                    unit="reqps",
                    width=8,
                ),
                Panel(
                    "HTTP errors/s (5xx)",
                    (
                        Q(
                            rate("epd_gateway_http_requests_total", "route", '{status=~"5.."}'),
                            "{{route}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                    width=8,
                ),
                Panel(
                    "HTTP duration p95 by route",
                    (Q(quantile(0.95, "epd_gateway_http_request_duration_seconds", "route"), "{{route}}"),),
                    unit="s",
                    width=8,
                ),
                Panel(
                    "Days until expiry",
                    (
                        Q("(max(epd_gateway_signing_key_expiry_timestamp_seconds) - time()) / 86400", "signing key"),
                        Q(
                            "(min(epd_gateway_tls_certificate_expiry_timestamp_seconds) - time()) / 86400",
                            "TLS certificate",
                        ),
                    ),
                    width=24,
                    description="Signing key: created + EPD_GATEWAY_KEY_MAX_AGE_DAYS; certificate: notAfter",
                ),
            ),
        ),
        Row(
            "portal (public registry)",
            (
                Panel(
                    "HTTP requests/s by route and status",
                    (Q(rate("epd_portal_http_requests_total", "route, status"), "{{route}} {{status}}"),),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "HTTP errors/s (5xx)",
                    (
                        Q(
                            rate("epd_portal_http_requests_total", "route", '{status=~"5.."}'),
                            "{{route}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                    width=6,
                ),
                Panel(
                    "HTTP duration p95 by route",
                    (Q(quantile(0.95, "epd_portal_http_request_duration_seconds", "route"), "{{route}}"),),
                    unit="s",
                    width=6,
                ),
                _resources("portal"),
            ),
        ),
    ),
)

PARTNERS = Dashboard(
    uid="epd-partner-delivery",
    title="EPD partner delivery",
    description="Webhook deliveries to partner bodies: outcomes, attempts, dead letters, freshness.",
    rows=(
        Row(
            "Deliveries",
            (
                Panel(
                    "Deliveries/s by partner and outcome",
                    (
                        Q(
                            rate("epd_publisher_deliveries_total", "partner, outcome"),
                            "{{partner}} {{outcome}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Attempts/s by partner and result",
                    (
                        Q(
                            rate("epd_publisher_delivery_attempts_total", "partner, result"),
                            "{{partner}} {{result}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Dead letters (24h) by partner",
                    (
                        Q(
                            "sum by (partner) (increase(epd_publisher_dead_letters_total[1d]))",
                            "{{partner}}",
                            incident=True,
                        ),
                    ),
                    kind="stat",
                ),
                Panel(
                    "Change-feed publication freshness",
                    (
                        Q(quantile(0.5, "epd_publisher_publication_freshness_seconds"), "p50"),
                        Q(quantile(0.99, "epd_publisher_publication_freshness_seconds"), "p99"),
                    ),
                    unit="s",
                ),
            ),
        ),
    ),
)

PLANTS = Dashboard(
    uid="epd-plant-telemetry",
    title="EPD plant telemetry health",
    description="Per connector (one per plant): sources, spool, sends; what ingest refuses and why.",
    rows=(
        Row(
            "Sources",
            (
                Panel(
                    "Readings/s by source",
                    (
                        Q(
                            rate("epd_connector_readings_received_total", "instance, source"),
                            "{{instance}} {{source}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Source connected",
                    (Q("epd_connector_source_connected", "{{instance}} {{source}}", incident=True),),
                    kind="stat",
                ),
                Panel(
                    "Refused at the edge/s",
                    (
                        Q(
                            rate("epd_connector_source_errors_total", "source, reason"),
                            "{{source}} {{reason}}",
                            incident=True,
                        ),
                    ),
                    unit="reqps",
                    width=24,
                ),
            ),
        ),
        Row(
            "Spool",
            (
                Panel(
                    "Spool fill", (Q("epd_connector_spool_fill_ratio", "{{instance}}"),), unit="percentunit", width=6
                ),
                Panel("Spool depth", (Q("epd_connector_spool_depth_batches", "{{instance}}"),), width=6),
                Panel(
                    "Oldest unsent batch", (Q("epd_connector_spool_age_seconds", "{{instance}}"),), unit="s", width=6
                ),
                Panel(
                    "Spool refusals (1h)",
                    (Q("sum(increase(epd_connector_spool_full_total[1h]))", "refused"),),
                    kind="stat",
                    width=6,
                ),
            ),
        ),
        Row(
            "Ingest",
            (
                Panel(
                    "Rejected readings/s by reason",
                    (Q(rate("epd_ingest_readings_rejected_total", "reason"), "{{reason}}", incident=True),),
                    unit="reqps",
                ),
                Panel(
                    "Send latency p95 by connector",
                    (Q(quantile(0.95, "epd_connector_send_latency_seconds", "instance"), "{{instance}}"),),
                    unit="s",
                ),
            ),
        ),
    ),
)

DASHBOARDS = [PIPELINE, RED, PARTNERS, PLANTS]
