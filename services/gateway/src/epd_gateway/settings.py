"""Gateway settings, from the environment only (see .env.example, gateway section)."""

from __future__ import annotations

from pydantic import Field, model_validator

from epd_common.settings import ProgrammeSettings


class GatewaySettings(ProgrammeSettings):
    """EPD_GATEWAY_* plus the programme settings (EPD_PROGRAMME_*, EPD_RECORDS_KEY_SECRET)."""

    host: str = Field(default="127.0.0.1", validation_alias="EPD_GATEWAY_HOST")
    port: int = Field(default=8443, ge=0, le=65535, validation_alias="EPD_GATEWAY_HTTPS_PORT")
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_GATEWAY_METRICS_PORT")
    # PEM files; when both are empty a self-signed certificate is generated under tls_dir.
    tls_cert_file: str = Field(default="", validation_alias="EPD_GATEWAY_TLS_CERT_FILE")
    tls_key_file: str = Field(default="", validation_alias="EPD_GATEWAY_TLS_KEY_FILE")
    tls_dir: str = Field(default=".run/gateway/tls", validation_alias="EPD_GATEWAY_TLS_DIR")
    # Issuer and audience of access tokens; the public base URL (https) of this gateway.
    issuer: str = Field(
        default="https://127.0.0.1:8443", pattern=r"^https://", validation_alias="EPD_GATEWAY_PUBLIC_URL"
    )
    audience: str = Field(default="epd-gateway", min_length=1, validation_alias="EPD_GATEWAY_AUDIENCE")
    token_ttl_seconds: int = Field(default=600, ge=30, le=900, validation_alias="EPD_GATEWAY_TOKEN_TTL_SECONDS")
    # Lifetime of a signing key: the expiry metric (and its alert) is created_at + this.
    key_max_age_days: float = Field(default=365.0, gt=0, le=3650, validation_alias="EPD_GATEWAY_KEY_MAX_AGE_DAYS")
    key_refresh_seconds: float = Field(default=10.0, ge=0, le=3600, validation_alias="EPD_GATEWAY_KEY_REFRESH_SECONDS")
    cursor_ttl_seconds: int = Field(default=900, ge=180, le=86400, validation_alias="EPD_GATEWAY_CURSOR_TTL_SECONDS")
    page_limit_max: int = Field(default=1000, ge=1, le=10000, validation_alias="EPD_GATEWAY_PAGE_LIMIT_MAX")
    # Token buckets (per client, shared by every replica in PostgreSQL): sustained requests per second and burst.
    rate_per_second: float = Field(default=50.0, gt=0, validation_alias="EPD_GATEWAY_RATE_PER_SECOND")
    rate_burst: int = Field(default=100, ge=1, validation_alias="EPD_GATEWAY_RATE_BURST")
    token_rate_per_second: float = Field(default=0.5, gt=0, validation_alias="EPD_GATEWAY_TOKEN_RATE_PER_SECOND")
    token_rate_burst: int = Field(default=5, ge=1, validation_alias="EPD_GATEWAY_TOKEN_RATE_BURST")
    # A request whose target or header section is larger is refused with a 400 before any other work.
    max_request_head_bytes: int = Field(
        default=16_384, ge=2048, le=1_048_576, validation_alias="EPD_GATEWAY_MAX_REQUEST_HEAD_BYTES"
    )
    # Bodies of other routes (the token endpoint takes 4 KiB, /3/events 1 MB); JSON nesting of any body.
    max_request_body_bytes: int = Field(
        default=16_384, ge=1024, le=16_777_216, validation_alias="EPD_GATEWAY_MAX_REQUEST_BODY_BYTES"
    )
    max_json_depth: int = Field(default=32, ge=4, le=512, validation_alias="EPD_GATEWAY_MAX_JSON_DEPTH")
    request_poll_seconds: float = Field(default=1.0, gt=0, le=60, validation_alias="EPD_GATEWAY_REQUEST_POLL_SECONDS")
    # How often the gateway looks for versions whose inputs changed and renders their records and
    # documents ahead of the first read (render_ahead.py); 0 turns that off (first reads render).
    render_ahead_seconds: float = Field(default=2.0, ge=0, le=3600, validation_alias="EPD_GATEWAY_RENDER_AHEAD_SECONDS")
    # Incoming /3/events are kept this long, then deleted (answered or not).
    events_retention_days: float = Field(
        default=7.0, gt=0, le=3650, validation_alias="EPD_GATEWAY_EVENTS_RETENTION_DAYS"
    )
    # Per client: at most this many stored incoming events, and this many bytes of them; past either, 429.
    events_quota: int = Field(default=2000, ge=1, le=1_000_000, validation_alias="EPD_GATEWAY_EVENTS_QUOTA")
    events_quota_bytes: int = Field(
        default=16 * 1024 * 1024, ge=65_536, le=1 << 34, validation_alias="EPD_GATEWAY_EVENTS_QUOTA_BYTES"
    )

    @model_validator(mode="after")
    def _signs_records(self) -> GatewaySettings:
        if self.records_key_secret is None:
            raise ValueError("EPD_RECORDS_KEY_SECRET is required: the gateway signs records and tokens")
        return self
