"""Connector settings, from the environment only (see .env.example, connector section)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

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
    mqtt_host: str = Field(default="127.0.0.1", validation_alias="EPD_CONNECTOR_MQTT_HOST")
    mqtt_port: int = Field(default=11883, ge=1, le=65535, validation_alias="EPD_CONNECTOR_MQTT_PORT")
    opcua_url: str = Field(default="opc.tcp://127.0.0.1:4840/epd/", validation_alias="EPD_CONNECTOR_OPCUA_URL")
    files_path: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_FILES_PATH")
    files_state: Path | None = Field(default=None, validation_alias="EPD_CONNECTOR_FILES_STATE")
    files_rows_per_second: float = Field(default=0.0, ge=0, validation_alias="EPD_CONNECTOR_FILES_ROWS_PER_SECOND")
    files_checkpoint_rows: int = Field(default=50, ge=1, validation_alias="EPD_CONNECTOR_FILES_CHECKPOINT_ROWS")
    files_progress: bool = Field(default=False, validation_alias="EPD_CONNECTOR_FILES_PROGRESS")
    # Exit once the file replay is done and the spool is empty (backfill jobs).
    exit_when_drained: bool = Field(default=False, validation_alias="EPD_CONNECTOR_EXIT_WHEN_DRAINED")

    def source_list(self) -> list[str]:
        chosen = [s for s in self.sources.split(",") if s]
        unknown = [s for s in chosen if s not in SOURCES]
        if unknown:
            raise ConfigError(f"EPD_CONNECTOR_SOURCES: unknown source(s) {unknown}; choose from {SOURCES}")
        return chosen
