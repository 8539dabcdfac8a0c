"""Footprint service settings, from the environment only (see .env.example, footprint section)."""

from __future__ import annotations

from pydantic import Field

from epd_common.settings import ServiceSettings


class FootprintSettings(ServiceSettings):
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_FOOTPRINT_METRICS_PORT")
    admin_host: str = Field(default="127.0.0.1", validation_alias="EPD_FOOTPRINT_ADMIN_HOST")
    admin_port: int = Field(default=8083, ge=0, le=65535, validation_alias="EPD_FOOTPRINT_ADMIN_PORT")
    admin_token: str = Field(min_length=16, validation_alias="EPD_FOOTPRINT_ADMIN_TOKEN")
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
