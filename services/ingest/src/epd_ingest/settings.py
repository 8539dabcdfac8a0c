"""Settings of the ingest service: the shared EPD_* ones and its own EPD_INGEST_* (all in .env.example)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from epd_common.settings import ServiceSettings
from epd_ingest.pipeline import IngestConfig
from epd_ingest.validate import Limits


class IngestSettings(ServiceSettings):
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_INGEST_METRICS_PORT")
    consumer_group: str = Field(default="epd-ingest", min_length=1, validation_alias="EPD_INGEST_CONSUMER_GROUP")
    registry_refresh_seconds: float = Field(default=60.0, gt=0, validation_alias="EPD_INGEST_REGISTRY_REFRESH_SECONDS")
    max_future_skew_seconds: int = Field(default=300, ge=0, validation_alias="EPD_INGEST_MAX_FUTURE_SKEW_SECONDS")
    max_lateness_hours: float = Field(default=168.0, gt=0, validation_alias="EPD_INGEST_MAX_LATENESS_HOURS")
    max_record_bytes: int = Field(default=1_048_576, ge=1024, validation_alias="EPD_INGEST_MAX_RECORD_BYTES")
    max_readings_per_batch: int = Field(default=10_000, ge=1, validation_alias="EPD_INGEST_MAX_READINGS_PER_BATCH")
    create_topics: bool = Field(default=True, validation_alias="EPD_INGEST_CREATE_TOPICS")
    # Records known to wait and none polled this long: the consumer is taken as hung, the service logs
    # where its tasks wait and exits non-zero so its supervisor restarts it (epd_common.lag.StallWatch).
    stall_seconds: float = Field(default=300.0, ge=30, validation_alias="EPD_INGEST_STALL_SECONDS")

    def ingest_config(self) -> IngestConfig:
        return IngestConfig(
            limits=Limits(max_record_bytes=self.max_record_bytes, max_readings=self.max_readings_per_batch),
            max_future_skew=timedelta(seconds=self.max_future_skew_seconds),
            max_lateness=timedelta(hours=self.max_lateness_hours),
        )
