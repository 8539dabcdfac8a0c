"""Signing-key expiry (created + max age) and TLS certificate expiry (notAfter) as exported."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from prometheus_client import REGISTRY

from epd_gateway.observability import certificate_expiry, export_key_expiry, key_expiry
from epd_gateway.tls import self_signed


def test_key_expiry_is_created_plus_max_age_and_one_series_per_current_kid():
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert key_expiry(created, 365) == datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    export_key_expiry("old", created, 30)
    export_key_expiry("new", created, 365)
    name = "epd_gateway_signing_key_expiry_timestamp_seconds"
    assert REGISTRY.get_sample_value(name, {"kid": "old"}) is None
    assert REGISTRY.get_sample_value(name, {"kid": "new"}) == key_expiry(created, 365)


def test_certificate_expiry_is_not_after(tmp_path):
    cert, _ = self_signed(tmp_path)
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    assert certificate_expiry(cert) == parsed.not_valid_after_utc.timestamp()
