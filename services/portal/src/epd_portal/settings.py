"""Portal settings, from the environment only (see .env.example, portal section)."""

from __future__ import annotations

from pydantic import Field, model_validator

from epd_common.settings import ProgrammeSettings


class PortalSettings(ProgrammeSettings):
    """EPD_PORTAL_* plus the programme settings (EPD_PROGRAMME_*, EPD_RECORDS_KEY_SECRET)."""

    host: str = Field(default="127.0.0.1", validation_alias="EPD_PORTAL_HOST")
    port: int = Field(default=8090, ge=0, le=65535, validation_alias="EPD_PORTAL_HTTP_PORT")
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_PORTAL_METRICS_PORT")
    # A role that may only read (the portal refuses to start with one that can write): see
    # db/migrations/versions/0007_portal_reader.py for what it is granted.
    pg_dsn: str = Field(
        default="postgresql://epd_portal:epd_portal@127.0.0.1:55432/epd", validation_alias="EPD_PORTAL_PG_DSN"
    )
    # How people reach the portal (links in feeds, the verify command); https makes the session cookie Secure.
    public_url: str = Field(
        default="http://127.0.0.1:8090", pattern=r"^https?://", validation_alias="EPD_PORTAL_PUBLIC_URL"
    )
    # Named on the product pages beside the portal's own JWKS (the programme's keys are the same).
    gateway_url: str = Field(default="https://127.0.0.1:8443", validation_alias="EPD_GATEWAY_PUBLIC_URL")
    # Operators' approve and reject go to the footprint admin API with the operator's own token.
    admin_url: str = Field(default="http://127.0.0.1:8083", validation_alias="EPD_FOOTPRINT_ADMIN_URL")
    session_hours: float = Field(default=8.0, gt=0, le=24, validation_alias="EPD_PORTAL_SESSION_HOURS")
    key_refresh_seconds: float = Field(default=10.0, ge=0, le=3600, validation_alias="EPD_PORTAL_KEY_REFRESH_SECONDS")
    page_size: int = Field(default=20, ge=1, le=200, validation_alias="EPD_PORTAL_PAGE_SIZE")
    # Cache-Control max-age of public pages (operators' pages are never cached).
    cache_seconds: int = Field(default=60, ge=0, le=86400, validation_alias="EPD_PORTAL_CACHE_SECONDS")
    max_request_head_bytes: int = Field(
        default=16_384, ge=2048, le=1_048_576, validation_alias="EPD_PORTAL_MAX_REQUEST_HEAD_BYTES"
    )
    # PEM files; when both are empty the portal speaks plain HTTP (behind a TLS-terminating proxy or ingress).
    tls_cert_file: str = Field(default="", validation_alias="EPD_PORTAL_TLS_CERT_FILE")
    tls_key_file: str = Field(default="", validation_alias="EPD_PORTAL_TLS_KEY_FILE")

    @model_validator(mode="after")
    def _checks(self) -> PortalSettings:
        if self.records_key_secret is None:
            raise ValueError("EPD_RECORDS_KEY_SECRET is required: the portal signs downloads and operator sessions")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("set both EPD_PORTAL_TLS_CERT_FILE and EPD_PORTAL_TLS_KEY_FILE, or neither")
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")
