"""Gateway operations metrics: HTTP RED by route template, signing-key and TLS-certificate expiry.

Key expiry: a signing key is meant to be rotated before `created_at + EPD_GATEWAY_KEY_MAX_AGE_DAYS`
(the programme's key lifetime; retired keys stay in the JWKS forever for verification, so only the
current key has an expiry to watch). The certificate expiry is the served certificate's notAfter.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from prometheus_client import Gauge

from epd_common.http_metrics import red_metrics

HTTP_REQUESTS, HTTP_DURATION = red_metrics(
    "epd_gateway_http_requests_total", "epd_gateway_http_request_duration_seconds"
)
KEY_EXPIRY = Gauge(
    "epd_gateway_signing_key_expiry_timestamp_seconds",
    "When the current signing key is due for rotation (created + max age), Unix time",
    ["kid"],
)
TLS_EXPIRY = Gauge(
    "epd_gateway_tls_certificate_expiry_timestamp_seconds", "notAfter of the served TLS certificate, Unix time"
)


def key_expiry(created_at: datetime, max_age_days: float) -> float:
    return (created_at + timedelta(days=max_age_days)).timestamp()


def export_key_expiry(kid: str, created_at: datetime, max_age_days: float) -> None:
    """One series, for the current kid (a rotation replaces the previous series)."""
    KEY_EXPIRY.clear()
    KEY_EXPIRY.labels(kid).set(key_expiry(created_at, max_age_days))


def certificate_expiry(cert_pem: Path) -> float:
    return x509.load_pem_x509_certificate(cert_pem.read_bytes()).not_valid_after_utc.timestamp()


def export_certificate_expiry(cert_pem: Path) -> None:
    TLS_EXPIRY.set(certificate_expiry(cert_pem))
