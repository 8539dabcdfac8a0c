"""Admin API input models (pydantic): hostile input stops here with a 422 and a body, never a 500.

Ids follow the registry's rule (no control characters, so no NUL byte reaches PostgreSQL), text is
bounded and printable, numbers are finite decimals with |x| <= 1e15 (JSON 1e400 parses to inf and is
refused here; huge integers too).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

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


class ProcessIn(Model):
    process_id: Id
    plant_id: Id
    name: Text
    stage: Literal["mining", "beneficiation", "roasting", "leaching", "separation", "electrolysis", "magnet", "other"]
    telemetry_backed: bool = True


class MeterIn(Model):
    meter_id: Id
    process_id: Id
    activity_kind: Literal["electricity", "fuel", "steam", "reagent", "direct_emission", "product_output"]
    activity: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,99}$")
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
    verifier: Text


class ReasonIn(Model):
    reason: Text
