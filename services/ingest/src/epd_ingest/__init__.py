"""Ingest: verify, validate, normalise and dedupe raw plant telemetry (pure core; no Kafka here)."""
