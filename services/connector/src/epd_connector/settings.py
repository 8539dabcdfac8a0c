"""Connector settings, from the environment only (see .env.example, connector section)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from epd_common.settings import ServiceSettings
from epd_connector.config import ConfigError

SOURCES = ("opcua", "mqtt", "http", "files")


class ConnectorSettings(ServiceSettings):
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_CONNECTOR_METRICS_PORT")
    plant_config: Path = Field(validation_alias="EPD_CONNECTOR_PLANT_CONFIG")
    key_file: Path = Field(validation_alias="EPD_CONNECTOR_KEY_FILE")
    sources: str = Field(default="http", pattern=r"^[a-z,]*$", validation_alias="EPD_CONNECTOR_SOURCES")
    # Overrides of the plant YAML's spool section (one spool file per plant inside the directory).
    spool_dir: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_SPOOL_DIR")
    spool_max_bytes: int | None = Field(default=None, ge=1024, validation_alias="EPD_CONNECTOR_SPOOL_MAX_BYTES")
    http_host: str = Field(default="127.0.0.1", validation_alias="EPD_CONNECTOR_HTTP_HOST")
    http_port: int = Field(default=8081, ge=0, le=65535, validation_alias="EPD_CONNECTOR_HTTP_PORT")
    http_max_bytes: int = Field(default=1_048_576, ge=1024, validation_alias="EPD_CONNECTOR_HTTP_MAX_BYTES")
    # Who may push (push_auth.py): "credential" a bearer push token from the credential file; "mtls" a
    # client certificate from EPD_CONNECTOR_HTTP_TLS_CLIENT_CA_FILE (a CA that issues to this plant's
    # systems only); "credential+mtls" both.
    http_auth: Literal["credential", "mtls", "credential+mtls"] = Field(
        default="credential", validation_alias="EPD_CONNECTOR_HTTP_AUTH"
    )
    http_credentials_file: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_HTTP_CREDENTIALS_FILE")
    http_tls_cert_file: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_HTTP_TLS_CERT_FILE")
    http_tls_key_file: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_HTTP_TLS_KEY_FILE")
    http_tls_client_ca_file: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_HTTP_TLS_CLIENT_CA_FILE")
    # Plain HTTP on a non-loopback address only behind a TLS-terminating proxy that says so here.
    http_allow_plaintext: bool = Field(default=False, validation_alias="EPD_CONNECTOR_HTTP_ALLOW_PLAINTEXT")
    mqtt_host: str = Field(default="127.0.0.1", validation_alias="EPD_CONNECTOR_MQTT_HOST")
    mqtt_port: int = Field(default=18883, ge=1, le=65535, validation_alias="EPD_CONNECTOR_MQTT_PORT")
    # The plant's broker user (one per plant, confined to its topics by the broker's ACL).
    mqtt_username: str = Field(default="", max_length=128, validation_alias="EPD_CONNECTOR_MQTT_USERNAME")
    mqtt_password: SecretStr = Field(default=SecretStr(""), validation_alias="EPD_CONNECTOR_MQTT_PASSWORD")
    mqtt_tls: bool = Field(default=True, validation_alias="EPD_CONNECTOR_MQTT_TLS")
    # CA that signed the broker's certificate; unset: the system's trust store.
    mqtt_ca_file: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_MQTT_CA_FILE")
    opcua_url: str = Field(default="opc.tcp://127.0.0.1:4840/epd/", validation_alias="EPD_CONNECTOR_OPCUA_URL")
    files_path: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_FILES_PATH")
    files_state: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_FILES_STATE")
    files_rows_per_second: float = Field(default=0.0, ge=0, validation_alias="EPD_CONNECTOR_FILES_ROWS_PER_SECOND")
    files_checkpoint_rows: int = Field(default=50, ge=1, validation_alias="EPD_CONNECTOR_FILES_CHECKPOINT_ROWS")
    files_progress: bool = Field(default=False, validation_alias="EPD_CONNECTOR_FILES_PROGRESS")
    # Exit once the file replay is done and the spool is empty (backfill jobs).
    exit_when_drained: bool = Field(default=False, validation_alias="EPD_CONNECTOR_EXIT_WHEN_DRAINED")

    @field_validator(
        "http_credentials_file",
        "http_tls_cert_file",
        "http_tls_key_file",
        "http_tls_client_ca_file",
        "mqtt_ca_file",
        mode="before",
    )
    @classmethod
    def _empty_file_is_unset(cls, value: object) -> object:
        # `NAME=` (as .env.example lists unset files) means unset, not the current directory
        return None if value == "" else value

    @model_validator(mode="after")
    def _inputs_are_authenticated(self) -> ConnectorSettings:
        chosen = self.sources.split(",")
        if "http" in chosen:
            problems = http_problems(self)
            if problems:
                raise ValueError("; ".join(problems))
        if "mqtt" in chosen and not (self.mqtt_username and self.mqtt_password.get_secret_value()):
            raise ValueError("the mqtt source needs EPD_CONNECTOR_MQTT_USERNAME and EPD_CONNECTOR_MQTT_PASSWORD")
        return self

    def source_list(self) -> list[str]:
        chosen = [s for s in self.sources.split(",") if s]
        unknown = [s for s in chosen if s not in SOURCES]
        if unknown:
            raise ConfigError(f"EPD_CONNECTOR_SOURCES: unknown source(s) {unknown}; choose from {SOURCES}")
        return chosen


def http_problems(s: ConnectorSettings) -> list[str]:
    """Why the push listener's settings would let unauthenticated input in (empty: they do not)."""
    out = []
    tls = s.http_tls_cert_file is not None
    if tls != (s.http_tls_key_file is not None):
        out.append("set both EPD_CONNECTOR_HTTP_TLS_CERT_FILE and EPD_CONNECTOR_HTTP_TLS_KEY_FILE, or neither")
    if "credential" in s.http_auth and s.http_credentials_file is None:
        out.append(f"EPD_CONNECTOR_HTTP_AUTH={s.http_auth} needs EPD_CONNECTOR_HTTP_CREDENTIALS_FILE")
    if "mtls" in s.http_auth and not (tls and s.http_tls_client_ca_file is not None):
        out.append(f"EPD_CONNECTOR_HTTP_AUTH={s.http_auth} needs TLS and EPD_CONNECTOR_HTTP_TLS_CLIENT_CA_FILE")
    if s.http_tls_client_ca_file is not None and not tls:
        out.append("EPD_CONNECTOR_HTTP_TLS_CLIENT_CA_FILE needs TLS (EPD_CONNECTOR_HTTP_TLS_CERT_FILE, _KEY_FILE)")
    if not tls and not s.http_allow_plaintext and not _loopback(s.http_host):
        out.append(
            f"EPD_CONNECTOR_HTTP_HOST={s.http_host} without TLS would take credentials in clear text: set"
            " EPD_CONNECTOR_HTTP_TLS_CERT_FILE and _KEY_FILE"
            " (or EPD_CONNECTOR_HTTP_ALLOW_PLAINTEXT=true behind a TLS-terminating proxy)"
        )
    return out


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
