"""The one error base of ingest: every error it raises on purpose derives from IngestError."""

from __future__ import annotations


class IngestError(Exception):
    """Base of ingest's own errors; the message says why."""
