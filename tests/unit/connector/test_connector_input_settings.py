"""Connector settings refuse a start that would take plant input unauthenticated: a push listener
without credentials (or without the client CA it claims for mTLS), plain HTTP beyond loopback, an
MQTT source without its broker user."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from epd_connector.settings import ConnectorSettings

BASE = {"plant_config": Path("p.yaml"), "key_file": Path("k.pem")}
CREDS = {"http_credentials_file": Path("push.json")}
TLS = {"http_tls_cert_file": Path("c.pem"), "http_tls_key_file": Path("c.key")}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"sources": "http"}, "EPD_CONNECTOR_HTTP_CREDENTIALS_FILE"),
        ({"sources": "http", "http_auth": "mtls", **TLS}, "EPD_CONNECTOR_HTTP_TLS_CLIENT_CA_FILE"),
        ({"sources": "http", "http_auth": "mtls", "http_tls_client_ca_file": Path("ca.pem")}, "needs TLS"),
        ({"sources": "http", **CREDS, "http_tls_cert_file": Path("c.pem")}, "or neither"),
        ({"sources": "http", **CREDS, "http_host": "0.0.0.0"}, "clear text"),
        ({"sources": "http", **CREDS, "http_host": "10.1.2.3"}, "clear text"),
        ({"sources": "mqtt"}, "EPD_CONNECTOR_MQTT_USERNAME"),
        ({"sources": "mqtt", "mqtt_username": "p1"}, "EPD_CONNECTOR_MQTT_PASSWORD"),
        ({"sources": "http", "http_auth": "password", **CREDS}, "http_auth"),
    ],
)
def test_unauthenticated_inputs_stop_the_start(settings, message):
    with pytest.raises(ValidationError, match=message):
        ConnectorSettings(**BASE, **settings)


@pytest.mark.parametrize(
    "settings",
    [
        {"sources": "http", **CREDS},
        {"sources": "http", **CREDS, "http_host": "::1"},
        {"sources": "http", **CREDS, "http_host": "0.0.0.0", **TLS},
        {"sources": "http", **CREDS, "http_host": "0.0.0.0", "http_allow_plaintext": True},
        {"sources": "http", "http_auth": "mtls", **TLS, "http_tls_client_ca_file": Path("ca.pem")},
        {"sources": "http", "http_auth": "credential+mtls", **CREDS, **TLS, "http_tls_client_ca_file": Path("a")},
        {"sources": "mqtt", "mqtt_username": "p1", "mqtt_password": "pw"},
        {"sources": "files"},
    ],
)
def test_authenticated_inputs_start(settings):
    s = ConnectorSettings(**BASE, **settings)
    assert "pw" not in repr(s)


def test_empty_variables_are_unset_for_files_and_for_the_shared_replication_settings(monkeypatch):
    """.env.example lists both kinds empty: the connector's file paths and ServiceSettings' replication
    (each validator keeps its own name, so the connector's never replaces the shared one)."""
    for name in ("EPD_KAFKA_REPLICATION_FACTOR", "EPD_KAFKA_MIN_INSYNC_REPLICAS", "EPD_CONNECTOR_HTTP_TLS_CERT_FILE"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("EPD_ENVIRONMENT", "local")
    settings = ConnectorSettings(**BASE, sources="http", **CREDS)
    assert settings.kafka_replication_factor is None and settings.kafka_min_insync_replicas is None
    assert settings.http_tls_cert_file is None and settings.topic_replication.factor == 1
