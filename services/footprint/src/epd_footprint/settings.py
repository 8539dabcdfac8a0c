"""Footprint service settings, from the environment only (see .env.example, footprint section)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from epd_common.settings import ServiceSettings


class FootprintSettings(ServiceSettings):
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_FOOTPRINT_METRICS_PORT")
    admin_host: str = Field(default="127.0.0.1", validation_alias="EPD_FOOTPRINT_ADMIN_HOST")
    admin_port: int = Field(default=8083, ge=0, le=65535, validation_alias="EPD_FOOTPRINT_ADMIN_PORT")
    # The bootstrap operator (registry writes, never approvals); people use their own API keys (`epd admin users`).
    admin_token: str = Field(min_length=16, validation_alias="EPD_FOOTPRINT_ADMIN_TOKEN")
    admin_tls_cert_file: Path | None = Field(default=None, validation_alias="EPD_FOOTPRINT_ADMIN_TLS_CERT_FILE")
    admin_tls_key_file: Path | None = Field(default=None, validation_alias="EPD_FOOTPRINT_ADMIN_TLS_KEY_FILE")
    # Plain HTTP on a non-loopback address only behind a TLS-terminating proxy (or mesh) that says so here.
    admin_allow_plaintext: bool = Field(default=False, validation_alias="EPD_FOOTPRINT_ADMIN_ALLOW_PLAINTEXT")
    group_id: str = Field(
        default="epd-footprint", pattern=r"^[A-Za-z0-9._-]{1,100}$", validation_alias="EPD_FOOTPRINT_GROUP_ID"
    )
    window_sizes: str = Field(
        default="ROLLING_30D",
        pattern=r"^(HOURLY|DAILY|ROLLING_30D)(,(HOURLY|DAILY|ROLLING_30D))*$",
        validation_alias="EPD_FOOTPRINT_WINDOW_SIZES",
    )
    drift_threshold: str = Field(default="0.10", validation_alias="EPD_FOOTPRINT_DRIFT_THRESHOLD")
    drift_consecutive: int = Field(default=3, ge=1, le=10000, validation_alias="EPD_FOOTPRINT_DRIFT_CONSECUTIVE")
    # Admin API bodies (product systems are the largest) and their JSON nesting, refused before the token check.
    admin_max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=4096, le=256 * 1024 * 1024, validation_alias="EPD_FOOTPRINT_ADMIN_MAX_BODY_BYTES"
    )
    admin_max_json_depth: int = Field(default=64, ge=4, le=512, validation_alias="EPD_FOOTPRINT_ADMIN_MAX_JSON_DEPTH")
    # A window whose handling fails this many times (not for a database outage) goes to the dead letters.
    window_attempts: int = Field(default=5, ge=1, le=100, validation_alias="EPD_FOOTPRINT_WINDOW_ATTEMPTS")

    @field_validator("admin_tls_cert_file", "admin_tls_key_file", mode="before")
    @classmethod
    def _empty_tls_file_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # `NAME=` (as .env.example lists unset files) means unset

    @model_validator(mode="after")
    def _credentials_not_in_clear(self) -> FootprintSettings:
        problems = admin_tls_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def admin_tls_problems(s: FootprintSettings) -> list[str]:
    """Why the admin API would take API keys in clear text (empty: it would not)."""
    tls = s.admin_tls_cert_file is not None
    if tls != (s.admin_tls_key_file is not None):
        return ["set both EPD_FOOTPRINT_ADMIN_TLS_CERT_FILE and EPD_FOOTPRINT_ADMIN_TLS_KEY_FILE, or neither"]
    if not tls and not s.admin_allow_plaintext and not _loopback(s.admin_host):
        return [
            f"EPD_FOOTPRINT_ADMIN_HOST={s.admin_host} without TLS would take API keys in clear text: set"
            " EPD_FOOTPRINT_ADMIN_TLS_CERT_FILE and _KEY_FILE"
            " (or EPD_FOOTPRINT_ADMIN_ALLOW_PLAINTEXT=true behind a TLS-terminating proxy)"
        ]
    return []


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
