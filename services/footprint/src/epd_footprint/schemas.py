"""Admin API input models (pydantic): hostile input stops here with a 422 and a body, never a 500.

Ids follow the registry's rule (no control characters, so no NUL byte reaches PostgreSQL), text is
bounded and printable, numbers are finite decimals with |x| <= 1e15 (JSON 1e400 parses to inf and is
refused here; huge integers too).
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

MAX = Decimal("1e15")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:+#-]{0,127}$"


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("expected a number or a decimal string")
    if isinstance(value, str) and len(value) > 64:
        raise ValueError("number text too long")
    if isinstance(value, int) and abs(value) > 10**15:
        raise ValueError("number out of range (|x| <= 1e15)")
    try:
        d = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError("not a decimal number") from None
    if not d.is_finite() or abs(d) > MAX:
        raise ValueError("number must be finite with |x| <= 1e15")
    return d


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("control characters (NUL, newlines, ...) are not allowed")
    return value


Num = Annotated[Decimal, BeforeValidator(_decimal)]
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_printable)]
OptText = Annotated[str | None, Field(default=None, max_length=500), AfterValidator(lambda v: v and _printable(v))]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganisationIn(Model):
    organisation_id: Id
    name: Text
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    # Company identifiers as URNs (RFC 8141), e.g. "urn:pact:company:cn-uscc:91150200MA0N0XYZ1K";
    # PACT records name their data owner by these.
    company_ids: list[
        Annotated[
            str, StringConstraints(max_length=512, pattern=r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[^\s\x00-\x1f]+$")
        ]
    ] = Field(default_factory=list, max_length=20)


class PlantIn(Model):
    plant_id: Id
    organisation_id: Id
    name: Text
    province: Text
    grid_region: Text
    latitude: Num | None = None
    longitude: Num | None = None


class PlantKeyIn(Model):
    key_id: Id
    public_key: str = Field(max_length=100, description="base64 of a 32-byte Ed25519 public key")

    def key_bytes(self) -> bytes:
        try:
            raw = base64.b64decode(self.public_key, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("public_key is not base64") from None
        if len(raw) != 32:
            raise ValueError("public_key must be 32 bytes (Ed25519)")
        return raw


Stage = Literal["mining", "beneficiation", "roasting", "leaching", "separation", "electrolysis", "magnet", "other"]
ActivityKind = Literal["electricity", "fuel", "steam", "reagent", "direct_emission", "product_output"]
ACTIVITY_PATTERN = r"^[a-z0-9][a-z0-9.-]{0,99}$"


class ProcessIn(Model):
    process_id: Id
    plant_id: Id
    name: Text
    stage: Stage
    telemetry_backed: bool = True


class MeterIn(Model):
    meter_id: Id
    process_id: Id
    activity_kind: ActivityKind
    activity: str = Field(pattern=ACTIVITY_PATTERN)
    unit: Text
    reading_kind: Literal["interval", "counter"]
    counter_modulus: Num | None = None
    max_rate_per_hour: Num | None = None
    product_id: Id | None = None
    public_key: str | None = Field(default=None, max_length=100, description="base64 Ed25519 key of the meter's signer")


class ProductIn(Model):
    product_id: Id
    name: Text
    declared_unit: str = Field(default="kg", pattern=r"^[A-Za-z0-9 ._/-]{1,20}$")
    classifications: list[Text] = Field(default_factory=list, max_length=20)
    purity: Num | None = None
    organisation_id: Id | None = None


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _latitude(value: Decimal) -> Decimal:
    if not -90 <= value <= 90:
        raise ValueError("latitude must be within -90..90")
    return value


def _longitude(value: Decimal) -> Decimal:
    if not -180 <= value <= 180:
        raise ValueError("longitude must be within -180..180")
    return value


Positive = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_positive)]
NotNegative = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_not_negative)]
# The unit texts ingest parses (epd_ingest.units): a plain unit expression, at most 32 characters.
Unit = Annotated[str, Field(pattern=r"^[A-Za-z0-9_/*^. ³]{1,32}$")]


class SiteProcessIn(Model):
    process_id: Id
    name: Text
    stage: Stage
    telemetry_backed: bool = True


class SiteProductIn(Model):
    product_id: Id
    name: Text


class SiteMeterIn(Model):
    """A meter as the plant's connector configures it; rates and bounds in the meter's own unit."""

    meter_id: Id
    process_id: Id
    activity_kind: ActivityKind
    activity: str = Field(pattern=ACTIVITY_PATTERN)
    unit: Unit
    reading_kind: Literal["interval", "counter"]
    counter_modulus: Positive | None = None
    max_rate_per_hour: Positive | None = None
    reset_floor: NotNegative = Decimal(0)
    interval_seconds: int = Field(default=60, ge=1, le=86_400)
    product_id: Id | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SiteMeterIn:
        if self.reading_kind != "counter" and (self.counter_modulus is not None or self.reset_floor):
            raise ValueError("counter_modulus and reset_floor only apply to counter meters")
        if self.activity_kind == "product_output" and not self.product_id:
            raise ValueError("product_output meters need product_id")
        return self


class SiteIn(Model):
    """A plant's whole site: the plant, its processes, the products its output meters name (created when
    missing), its meters and its connector's signing key (PUT /plants/{plant_id}/site)."""

    organisation_id: Id
    name: Text
    province: Text
    grid_region: Text
    latitude: Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_latitude)] | None = None
    longitude: Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_longitude)] | None = None
    key: PlantKeyIn
    processes: list[SiteProcessIn] = Field(min_length=1, max_length=1_000)
    products: list[SiteProductIn] = Field(default_factory=list, max_length=1_000)
    meters: list[SiteMeterIn] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> SiteIn:
        for what, ids in (
            ("process_id", [p.process_id for p in self.processes]),
            ("product_id", [p.product_id for p in self.products]),
            ("meter_id", [m.meter_id for m in self.meters]),
        ):
            dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
            if dupes:
                raise ValueError(f"duplicate {what}: {', '.join(dupes[:10])}")
        processes = {p.process_id for p in self.processes}
        unknown = sorted({m.process_id for m in self.meters} - processes)
        if unknown:
            raise ValueError(f"meters name processes the site does not describe: {', '.join(unknown[:10])}")
        return self


class ProductSystemIn(Model):
    system_id: Id
    document: dict[str, Any]
    binding: dict[str, Any]


Module = Literal["A1", "A2", "A3", "A1-A3"]
IndicatorName = Literal["GWP-total", "GWP-fossil", "GWP-biogenic", "GWP-luluc"]


class EpdImportIn(Model):
    product_id: Id
    plant_id: Id
    pcr_id: Text
    pcr_version: Text
    programme_operator: Text
    registration_number: Text
    reference_period_start: datetime
    reference_period_end: datetime
    factor_set_version: Text
    gwp_set: Text = "AR6"
    declared_unit: str = Field(default="kg", pattern=r"^[A-Za-z0-9 ._/-]{1,20}$")
    allocation_basis: Literal["none", "mass", "economic"] = "none"
    allocation_price_basis: OptText = None
    verifier: Text
    valid_from: datetime
    results: dict[Module, dict[IndicatorName, Num]]
    reason: Text = "imported EPD"


class PolicyIn(Model):
    scope: Literal["product", "pcr"]
    scope_id: Id
    threshold: Num = Decimal("0.10")
    consecutive: int = Field(default=3, ge=1, le=10_000)
    watch_deterioration: bool = True
    watch_improvement: bool = True


class ApproveIn(Model):
    """Deprecated: the approval records the authenticated verifier; a `verifier` given here is ignored."""

    verifier: OptText = None


class ReasonIn(Model):
    reason: Text


class KeyRetireIn(Model):
    """Retire a plant key (the end of a rotation's overlap); default: now."""

    effective_at: AwareDatetime | None = None


class KeyRevokeIn(Model):
    """Revoke a plant key: batches created, or holding readings observed, at or after `effective_at` (default:
    now; set it to when the key may first have leaked) are refused by ingest with reason KEY_REVOKED."""

    reason: Text
    effective_at: AwareDatetime | None = None
