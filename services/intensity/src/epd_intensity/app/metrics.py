"""Prometheus metrics of the intensity worker (prometheus_client; names epd_intensity_*)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from epd_common.metrics import FRESHNESS_BUCKETS

SIZES = {1: "hourly", 2: "daily", 3: "rolling_30d"}


class IntensityMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.readings = Counter(
            "epd_intensity_readings_total",
            "Readings by outcome (core/outcomes.py, plus 'undecodable' and 'replayed')",
            ["outcome"],
            registry=registry,
        )
        self.records = Counter(
            "epd_intensity_source_records_total",
            "Records of the readings topic, by outcome (batch: its readings stepped; malformed: not a "
            "ReadingBatch or no readings, to the correction log; replayed: at or below the applied offset; "
            "revoked: taken while partitions were revoked, read again once assigned)",
            ["outcome"],
            registry=registry,
        )
        self.windows = Counter(
            "epd_intensity_windows_emitted_total", "Windows emitted, by size", ["size"], registry=registry
        )
        self.revisions = Counter(
            "epd_intensity_late_revisions_total",
            "Windows emitted as revision > 0, by size",
            ["size"],
            registry=registry,
        )
        self.corrections = Counter(
            "epd_intensity_corrections_total",
            "Readings written to the correction log, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.factor_missing = Counter(
            "epd_intensity_factor_missing_total",
            "Emission lines left out: no factor or GWP",
            ["kind"],
            registry=registry,
        )
        self.unknown_activity = Counter(
            "epd_intensity_unknown_activity_total", "Readings of an unknown activity code", registry=registry
        )
        self.undefined = Counter(
            "epd_intensity_undefined_intensities_total",
            "Product intensities left undefined (zero output in the window)",
            ["size"],
            registry=registry,
        )
        self.rewinds = Counter(
            "epd_intensity_source_rewinds_total",
            "Source partitions sought back to their "
            "next expected reading, by reason (gap: readings lost in between; failed_batch)",
            ["reason"],
            registry=registry,
        )
        self.failed_batches = Counter(
            "epd_intensity_failed_batches_total",
            "Batches whose processing raised (abandoned: their readings are read again)",
            registry=registry,
        )
        self.freshness = Histogram(
            "epd_intensity_window_freshness_seconds",
            "Wall time at emission minus the window's end (event time)",
            ["size"],
            buckets=FRESHNESS_BUCKETS,
            registry=registry,
        )
