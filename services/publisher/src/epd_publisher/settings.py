"""Publisher settings (environment only; every variable is in .env.example)."""

from __future__ import annotations

from pydantic import Field, model_validator

from epd_common.settings import ProgrammeSettings


class PublisherSettings(ProgrammeSettings):
    """EPD_PUBLISHER_* plus the programme settings (EPD_PROGRAMME_*, EPD_RECORDS_KEY_SECRET)."""

    metrics_port: int = Field(default=9104, ge=0, le=65535, validation_alias="EPD_PUBLISHER_METRICS_PORT")
    relay_enabled: bool = Field(default=True, validation_alias="EPD_PUBLISHER_RELAY_ENABLED")
    delivery_enabled: bool = Field(default=True, validation_alias="EPD_PUBLISHER_DELIVERY_ENABLED")
    poll_interval_s: float = Field(default=0.1, gt=0, le=60, validation_alias="EPD_PUBLISHER_POLL_INTERVAL_S")
    relay_max_rows: int = Field(default=2000, ge=1, le=100_000, validation_alias="EPD_PUBLISHER_RELAY_MAX_ROWS")
    fanout_group: str = Field(
        default="epd-publisher-partners", min_length=1, validation_alias="EPD_PUBLISHER_FANOUT_GROUP"
    )
    # A change event whose fan-out fails this many times (not for a database outage) goes to the dead letters.
    fanout_attempts: int = Field(default=5, ge=1, le=100, validation_alias="EPD_PUBLISHER_FANOUT_ATTEMPTS")
    # The total deadline of one delivery attempt (DNS check, token, connect, request, response), not per read.
    http_timeout_s: float = Field(default=10.0, gt=0, le=120, validation_alias="EPD_PUBLISHER_HTTP_TIMEOUT_S")
    # At most this much of a partner's response body is read (only the status and Retry-After count).
    max_response_bytes: int = Field(
        default=65_536, ge=1024, le=16_777_216, validation_alias="EPD_PUBLISHER_MAX_RESPONSE_BYTES"
    )
    # Deliveries in flight per publisher, and per partner (a slow partner holds only its own slots).
    concurrency: int = Field(default=16, ge=1, le=1000, validation_alias="EPD_PUBLISHER_CONCURRENCY")
    partner_concurrency: int = Field(default=4, ge=1, le=1000, validation_alias="EPD_PUBLISHER_PARTNER_CONCURRENCY")
    # How long a claimed delivery belongs to its publisher replica; more than twice the attempt deadline.
    lease_s: float = Field(default=120.0, gt=0, le=3600, validation_alias="EPD_PUBLISHER_LEASE_S")
    event_source: str = Field(
        default="//epd.example.cn/3/events", min_length=1, validation_alias="EPD_PUBLISHER_EVENT_SOURCE"
    )
    # How often the record-signing keys are reloaded (a rotation through `epd gateway rotate-key`).
    key_refresh_seconds: float = Field(
        default=10.0, ge=0, le=3600, validation_alias="EPD_PUBLISHER_KEY_REFRESH_SECONDS"
    )
    breaker_failures: int = Field(default=5, ge=1, le=1000, validation_alias="EPD_PUBLISHER_BREAKER_FAILURES")
    breaker_cool_down_s: float = Field(default=60.0, gt=0, validation_alias="EPD_PUBLISHER_BREAKER_COOL_DOWN_S")
    # Derives the keys that encrypt partner endpoint secrets at rest (endpoint_secrets.py). Required.
    secret_key: str = Field(min_length=16, validation_alias="EPD_PUBLISHER_SECRET_KEY", repr=False)
    # Deliver the gateway's answers to PACT RequestCreated events (needs delivery enabled).
    pact_events_enabled: bool = Field(default=True, validation_alias="EPD_PUBLISHER_PACT_EVENTS_ENABLED")

    @model_validator(mode="after")
    def _lease_outlasts_attempts(self) -> PublisherSettings:
        # An attempt must end well before its lease, or a second replica could send the delivery again.
        if self.lease_s < 2 * self.http_timeout_s:
            raise ValueError("EPD_PUBLISHER_LEASE_S must be at least twice EPD_PUBLISHER_HTTP_TIMEOUT_S")
        return self

    @model_validator(mode="after")
    def _delivery_signs_records(self) -> PublisherSettings:
        # Delivery signs the pushed records; a relay-only publisher and the partner commands need no key.
        if self.delivery_enabled and self.records_key_secret is None:
            raise ValueError("EPD_RECORDS_KEY_SECRET is required when EPD_PUBLISHER_DELIVERY_ENABLED is true")
        return self
