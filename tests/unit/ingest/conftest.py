"""Registers the ingest fixtures (helpers live in ingest_support, a uniquely named module)."""

from ingest_support import plant  # noqa: F401
