"""Per-plant connector configuration: one YAML file maps source tags, topics and columns to meters.

The same file registers the plant (`epd connector register-plant`: the site, its processes, the
products its output meters name, meter -> process, activity, counter settings), so the field names
here are the contract between the site connector and the platform. The connector itself needs only
`plant_id`, `batching`, `spool` and `meters` (and `key_id` where a plant's key id is pinned); `site`,
`processes` and `products` are for the registration and may be left out or completed with
command-line options there.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from epd_connector.errors import ConnectorError

# Ids travel as Kafka keys, file names and PostgreSQL text: printable, no NUL, bounded.
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
_UNIT = r"^[A-Za-z0-9_/*^. ]{1,32}$"
MAX_CONFIG_BYTES = 1_000_000


class ConfigError(ConnectorError):
    """A plant configuration that cannot be used; the message names the file and the field."""


class ActivityKindName(StrEnum):
    """YAML spelling of epd.v1.ActivityKind."""

    ELECTRICITY = "electricity"
    FUEL = "fuel"
    STEAM = "steam"
    REAGENT = "reagent"
    DIRECT_EMISSION = "direct_emission"
    PRODUCT_OUTPUT = "product_output"


class ReadingKindName(StrEnum):
    """YAML spelling of epd.v1.ReadingKind."""

    INTERVAL = "interval"
    COUNTER = "counter"


class StageName(StrEnum):
    """Value-chain stage of a process (the registry's processes.stage values)."""

    MINING = "mining"
    BENEFICIATION = "beneficiation"
    ROASTING = "roasting"
    LEACHING = "leaching"
    SEPARATION = "separation"
    ELECTROLYSIS = "electrolysis"
    MAGNET = "magnet"
    OTHER = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpcUaBinding(_Strict):
    node_id: str = Field(min_length=1, max_length=256, description="e.g. ns=2;s=Roaster1.Power.kWh")


class MqttBinding(_Strict):
    topic: str = Field(min_length=1, max_length=256)
    json_path: str = Field(
        default="$.value",
        pattern=r"^\$(\.[A-Za-z0-9_-]+|\[\d+\])*$",
        description="dotted path into the JSON payload, e.g. $.meters.kwh",
    )
    timestamp_path: str | None = Field(default=None, pattern=r"^\$(\.[A-Za-z0-9_-]+|\[\d+\])*$")

    @field_validator("topic")
    @classmethod
    def _no_wildcards(cls, v: str) -> str:
        if "#" in v or "+" in v:
            raise ValueError("a meter binds one concrete topic; wildcards '#' and '+' are not allowed")
        return v


class CsvBinding(_Strict):
    column: str = Field(min_length=1, max_length=128)


class HttpBinding(_Strict):
    field: str = Field(min_length=1, max_length=128, description="key of the value in pushed JSON")


class SourceBindings(_Strict):
    opcua: OpcUaBinding | None = None
    mqtt: MqttBinding | None = None
    csv: CsvBinding | None = None
    http: HttpBinding | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> SourceBindings:
        if not any((self.opcua, self.mqtt, self.csv, self.http)):
            raise ValueError("a meter needs at least one source binding (opcua, mqtt, csv or http)")
        return self


class MeterConfig(_Strict):
    meter_id: str = Field(pattern=_ID)
    process_id: str = Field(pattern=_ID)
    activity_kind: ActivityKindName
    activity: str = Field(pattern=r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$", description="e.g. reagent.h2so4")
    unit: str = Field(pattern=_UNIT)
    kind: ReadingKindName
    # Counters only: the register wraps to 0 after this value (in `unit`), e.g. 999999.
    rollover: Decimal | None = Field(default=None, gt=0)
    # Counters only: a drop to at most this value (in `unit`) counts as a register reset.
    reset_floor: Decimal = Field(default=Decimal(0), ge=0)
    # Plausibility bound for ingest, in `unit` per hour.
    max_rate_per_hour: Decimal | None = Field(default=None, gt=0)
    # Nominal sampling interval; ingest uses it for the rate check of a meter's first reading.
    interval_seconds: int = Field(default=60, ge=1, le=86_400)
    product_id: str | None = Field(default=None, pattern=_ID)
    sources: SourceBindings

    @model_validator(mode="after")
    def _consistent(self) -> MeterConfig:
        if self.rollover is not None and self.kind is not ReadingKindName.COUNTER:
            raise ValueError("rollover only applies to counter meters")
        if self.reset_floor and self.kind is not ReadingKindName.COUNTER:
            raise ValueError("reset_floor only applies to counter meters")
        if self.activity_kind is ActivityKindName.PRODUCT_OUTPUT and not self.product_id:
            raise ValueError("product_output meters need product_id")
        return self


class BatchingConfig(_Strict):
    max_readings: int = Field(default=100, ge=1, le=10_000)
    max_age_seconds: float = Field(default=5.0, gt=0, le=3_600)


class SpoolConfig(_Strict):
    path: str = Field(default="spool.sqlite3", min_length=1)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    alarm_fill_ratio: float = Field(default=0.8, gt=0, lt=1)


class SiteConfig(_Strict):
    """Where the plant is and who runs it, as registered (organisation ids are registered beforehand)."""

    organisation_id: str | None = Field(default=None, pattern=_ID)
    name: str | None = Field(default=None, min_length=1, max_length=500)
    province: str | None = Field(default=None, min_length=1, max_length=500, description="ISO 3166-2, e.g. CN-NM")
    grid_region: str | None = Field(default=None, min_length=1, max_length=500, description="e.g. north")
    latitude: Decimal | None = Field(default=None, ge=-90, le=90)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180)


class ProcessConfig(_Strict):
    process_id: str = Field(pattern=_ID)
    name: str | None = Field(default=None, min_length=1, max_length=500)
    stage: StageName | None = None


class ProductConfig(_Strict):
    """A product an output meter names; registered with this name when the registry lacks it."""

    product_id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=500)


class PlantConfig(_Strict):
    plant_id: str = Field(pattern=_ID)
    # Pins the id of the key in the key file (plants registered before key ids were thumbprints); omit it
    # and the key is named by its public key (epd_connector.keys.key_id_for), which rotation needs.
    key_id: str | None = Field(default=None, pattern=_ID)
    site: SiteConfig = SiteConfig()
    processes: list[ProcessConfig] = Field(default_factory=list, max_length=1_000)
    products: list[ProductConfig] = Field(default_factory=list, max_length=1_000)
    batching: BatchingConfig = BatchingConfig()
    spool: SpoolConfig = SpoolConfig()
    meters: list[MeterConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_meters(self) -> PlantConfig:
        counts = Counter(m.meter_id for m in self.meters)
        dupes = sorted(meter_id for meter_id, n in counts.items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate meter_id: {', '.join(dupes)}")
        bound: dict[tuple[str, str], str] = {}
        for m in self.meters:
            for key in _binding_keys(m.sources):
                if key in bound:
                    raise ValueError(f"source {key[0]} {key[1]!r} bound to both {bound[key]} and {m.meter_id}")
                bound[key] = m.meter_id
        return self

    @model_validator(mode="after")
    def _registration_sections(self) -> PlantConfig:
        for what, ids in (
            ("process_id", [p.process_id for p in self.processes]),
            ("product_id", [p.product_id for p in self.products]),
        ):
            if dupes := sorted(i for i, n in Counter(ids).items() if n > 1):
                raise ValueError(f"duplicate {what}: {', '.join(dupes)}")
        unused = sorted({p.process_id for p in self.processes} - {m.process_id for m in self.meters})
        if unused:
            raise ValueError(f"processes that no meter names: {', '.join(unused)}")
        unnamed = sorted({p.product_id for p in self.products} - {m.product_id for m in self.meters if m.product_id})
        if unnamed:
            raise ValueError(f"products that no meter names: {', '.join(unnamed)}")
        return self

    def meter(self, meter_id: str) -> MeterConfig | None:
        return next((m for m in self.meters if m.meter_id == meter_id), None)


def _binding_keys(s: SourceBindings) -> list[tuple[str, str]]:
    keys = []
    if s.opcua:
        keys.append(("opcua", s.opcua.node_id))
    if s.mqtt:
        keys.append(("mqtt", f"{s.mqtt.topic} {s.mqtt.json_path}"))
    if s.csv:
        keys.append(("csv", s.csv.column))
    if s.http:
        keys.append(("http", s.http.field))
    return keys


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def parse_plant_config(data: Any, origin: str = "<config>") -> PlantConfig:
    """Validate an already-parsed mapping; raises ConfigError listing every bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return PlantConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: invalid plant configuration\n{_format_errors(exc)}") from exc


def load_plant_config_text(text: str, origin: str = "<config>") -> PlantConfig:
    if len(text.encode("utf-8", "replace")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{origin}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from exc
    return parse_plant_config(data, origin)


def load_plant_config(path: str | Path) -> PlantConfig:
    """Read and validate one plant YAML file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if re.search(r"[\x00]", text):
        raise ConfigError(f"{p}: contains NUL bytes")
    return load_plant_config_text(text, str(p))
