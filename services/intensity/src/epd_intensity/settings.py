"""Settings of the intensity worker (environment only; every variable is in .env.example)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from epd_common.settings import ServiceSettings

_PACKAGE = Path(__file__).parent


class IntensitySettings(ServiceSettings):
    metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="EPD_INTENSITY_METRICS_PORT")
    web_port: int = Field(default=6066, ge=1, le=65535, validation_alias="EPD_INTENSITY_WEB_PORT")
    # Unset: each process's `allowed_lateness_s` from the process config; set: overrides all of them.
    allowed_lateness_s: int | None = Field(
        default=None, ge=0, le=7 * 86400, validation_alias="EPD_INTENSITY_ALLOWED_LATENESS_S"
    )
    process_config: Path = Field(
        default=_PACKAGE.parents[1] / "config/processes.example.yaml", validation_alias="EPD_INTENSITY_PROCESS_CONFIG"
    )
    factor_data_dir: Path = Field(default=_PACKAGE / "factors/data", validation_alias="EPD_INTENSITY_FACTOR_DATA_DIR")
    data_dir: Path = Field(default=Path(".run/intensity"), validation_alias="EPD_INTENSITY_DATA_DIR")
    # Records are processed in batches (faust take_events): up to this many, or what arrived within
    # this time; state is written once per batch per plant. Each record is a ReadingBatch (ingest: a
    # plant's readings of one poll, up to reading_batches.MAX_BATCH_BYTES, ~800 readings; live, a poll's
    # few). 100 records of the bench's 100 readings cost ~38 us of worker CPU a reading against ~44 us
    # for 20 (each batch rewrites its changed buckets and days as version pairs and waits for its acks);
    # bounded so a backlog of full records (80,000 readings, a few seconds) still makes metrics move and
    # a rebalance waits seconds, not minutes (bench: 500 records took a whole 33,000-reading backlog).
    batch_max: int = Field(default=100, ge=1, le=10000, validation_alias="EPD_INTENSITY_BATCH_MAX")
    batch_within_ms: int = Field(default=100, ge=1, le=10000, validation_alias="EPD_INTENSITY_BATCH_WITHIN_MS")
    # Longest a fetch waits at the broker for new readings: bounds the stall after each fetched chunk
    # (app/transport.py says why); one empty poll per wait while idle.
    fetch_max_wait_ms: int = Field(default=100, ge=1, le=1500, validation_alias="EPD_INTENSITY_FETCH_MAX_WAIT_MS")
    # Allocations between young-generation garbage collections (CPython's default is 700; __main__.py).
    gc_threshold: int = Field(default=50_000, ge=700, le=1_000_000, validation_alias="EPD_INTENSITY_GC_THRESHOLD")
    # How often the applied source offsets are committed for the group (lag monitoring only).
    commit_interval_s: float = Field(default=3.0, gt=0, le=300, validation_alias="EPD_INTENSITY_COMMIT_INTERVAL_S")
    # Consumer group session: a worker that died (SIGKILL, lost node) holds its partitions this long
    # before a restarted one gets them. 60 is faust's default; the broker's minimum is 6.
    session_timeout_s: float = Field(default=60.0, ge=6, le=300, validation_alias="EPD_INTENSITY_SESSION_TIMEOUT_S")
    # Faust app id = consumer group and changelog topic prefix; the topic prefix is prepended too.
    app_id: str = Field(
        default="epd-intensity", pattern=r"^[A-Za-z0-9._-]{1,100}$", validation_alias="EPD_INTENSITY_APP_ID"
    )
    worker_id: str = Field(
        default="intensity-0", pattern=r"^[A-Za-z0-9._-]{1,100}$", validation_alias="EPD_INTENSITY_WORKER_ID"
    )
