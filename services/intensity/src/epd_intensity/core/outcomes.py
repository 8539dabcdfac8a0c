"""Every reading and every window computation ends in a named outcome: adapters count them
(e.g. a metric epd_intensity_readings_total{outcome=...}); nothing here raises for bad data."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # into an open window
    LATE_REVISION = "late_revision"  # into a closed window within allowed lateness: revision + 1
    TOO_LATE = "too_late"  # past allowed lateness: route to the correction log
    FUTURE = "future"  # event time implausibly ahead of ingestion: correction log, watermark untouched
    DUPLICATE = "duplicate"  # reading id already in the window: ignored (idempotent replay)
    UNKNOWN_PROCESS = "unknown_process"
    UNKNOWN_ACTIVITY = "unknown_activity"  # code/kind/unit not known: counted, not accumulated
    UNKNOWN_PRODUCT = "unknown_product"  # output of a product the process does not declare
    MALFORMED = "malformed"  # bad quantity, hash, id or timestamp
    BAD_QUALITY = "bad_quality"  # quality flag BAD


# Readings with these outcomes are stored in a window.
STORED = frozenset({Outcome.ACCEPTED, Outcome.LATE_REVISION})
