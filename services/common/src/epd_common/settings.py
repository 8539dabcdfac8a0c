"""Typed settings from the environment only (pydantic-settings), one class per service.

Services subclass `ServiceSettings`. Shared variables carry the `EPD_` prefix; a service's own
variables carry its name (`EPD_CONNECTOR_HTTP_PORT`) through `validation_alias`, so several
services can run on one host. Every variable is listed in .env.example; missing required values
fail at start-up with pydantic's error naming the variable.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EPD_", extra="ignore", frozen=True, populate_by_name=True)

    kafka_bootstrap: str = Field(default="127.0.0.1:19092", description="Kafka bootstrap servers")
    pg_dsn: str = Field(default="postgresql://epd:epd@127.0.0.1:55432/epd", description="PostgreSQL DSN")
    log_level: str = Field(default="INFO")
    log_json: bool = Field(default=True, description="JSON log lines (false: plain text for a console)")
    # Prepended to every topic name: isolates test runs and environments sharing one cluster.
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,100}$")
    # Overridden per service with an aliased variable, e.g. EPD_CONNECTOR_METRICS_PORT; 0 = off.
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Prometheus /metrics port")


class ProgrammeSettings(ServiceSettings):
    """ServiceSettings plus what every service that renders or signs records must agree on, so that a
    record pushed to a partner equals the record it pulls: the programme, its extension schemas, its
    signing keys."""

    programme_operator: str = Field(
        default="National Rare-Earth EPD Programme",
        min_length=1,
        max_length=200,
        validation_alias="EPD_PROGRAMME_OPERATOR",
    )
    extension_base_url: str = Field(
        default="https://epd.example.cn/pact/extensions",
        pattern=r"^https://",
        max_length=500,
        validation_alias="EPD_PROGRAMME_EXTENSION_BASE_URL",
    )
    # Encrypts the record-signing private keys at rest (epd_common.signing_keys); the gateway also keys
    # its pagination cursors with it. The same value on every service that signs records; a service
    # that signs requires it at start (see `signing_secret`).
    records_key_secret: str | None = Field(
        default=None, min_length=16, validation_alias="EPD_RECORDS_KEY_SECRET", repr=False
    )

    @property
    def signing_secret(self) -> str:
        if self.records_key_secret is None:
            raise ValueError("EPD_RECORDS_KEY_SECRET is required (>= 16 characters) to sign records")
        return self.records_key_secret
