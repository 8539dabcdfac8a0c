"""Recognition agreements: which footprint versions a partner body recognises, and where they go.

``recognises(agreement, footprint)`` is the one filter of pushes (deliveries) and pulls (gateway).
A version is recognised when all hold: the partner may see it now (``epd_records.status``), one of
its classification codes starts with one of the partner's product-class prefixes, its PCR id and
version match one of the partner's PCR rules, and it conforms to at least one standard the partner
recognises. Every refusal carries the reason, for the delivery log.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from epd.v1 import footprint_pb2
from epd_records.status import Viewer, change_concerns, served_status, status_name


class Standard(StrEnum):
    EN_15804_A2 = "EN 15804+A2"
    ISO_14025 = "ISO 14025"
    ISO_14067 = "ISO 14067"


class DeliveryFormat(StrEnum):
    PACT = "pact"  # PACT v3 CloudEvent POSTed to the partner's /3/events with its OAuth2 token
    WEBHOOK_PACT = "webhook-pact"  # Standard Webhooks POST, full record as PACT ProductFootprint
    WEBHOOK_OPENEPD = "webhook-openepd"  # Standard Webhooks POST, full record as openEPD JSON


#: What a version conforms to when its series names no registered PCR (FootprintVersion.standards
#: is then filled with these): EN 15804+A2 core rules (modules and indicators, DESIGN.md section 3)
#: in an ISO 14025 Type III programme. ISO 14067 is not claimed by default.
PROGRAMME_STANDARDS: frozenset[Standard] = frozenset({Standard.EN_15804_A2, Standard.ISO_14025})

_CLASS_RE = re.compile(r"^([a-z][a-z0-9_-]{0,15}):([0-9a-z][0-9a-z. -]{0,63})$")
_VERSION_RE = re.compile(r"^\d{1,9}(\.\d{1,9}){0,5}$")
_Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]


def classification_key(code: object) -> tuple[str, str] | None:
    """``"HS:8505.11"`` -> ``("hs", "850511")``; None when the code is malformed."""
    if not isinstance(code, str):
        return None
    m = _CLASS_RE.match(code.strip().lower())
    if m is None:
        return None
    return m.group(1), m.group(2).replace(".", "").replace(" ", "").replace("-", "")


def parse_version(text: object) -> tuple[int, ...] | None:
    """Dotted numeric version (``"1.2.0"``) as a comparable tuple without trailing zeros."""
    if not isinstance(text, str) or not _VERSION_RE.match(text.strip()):
        return None
    parts = [int(p) for p in text.strip().split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


class PcrRule(BaseModel):
    """A recognised PCR: exact versions, or a range [min_version, below_version), or any version."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    pcr_id: _Id
    versions: tuple[_Id, ...] = ()
    min_version: str | None = None
    below_version: str | None = None

    @model_validator(mode="after")
    def _check(self) -> PcrRule:
        if self.versions and (self.min_version or self.below_version):
            raise ValueError("give exact versions or a range, not both")
        for bound in (self.min_version, self.below_version):
            if bound is not None and parse_version(bound) is None:
                raise ValueError(f"range bound {bound!r} is not a dotted numeric version")
        lo, hi = parse_version(self.min_version), parse_version(self.below_version)
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError("min_version must be below below_version")
        return self

    def matches(self, pcr_id: str, pcr_version: str) -> bool:
        if pcr_id.strip() != self.pcr_id:
            return False
        if self.versions:
            return pcr_version.strip() in self.versions
        if self.min_version is None and self.below_version is None:
            return True
        v = parse_version(pcr_version)
        if v is None:
            return False
        lo, hi = parse_version(self.min_version), parse_version(self.below_version)
        return (lo is None or v >= lo) and (hi is None or v < hi)


class Endpoint(BaseModel):
    """A delivery endpoint; its URL must pass ``ssrf.check_url`` when it is registered."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    endpoint_id: _Id
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    format: DeliveryFormat
    enabled: bool = True


class RecognitionAgreement(BaseModel):
    """What a partner body recognises and where its deliveries go."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    partner_id: _Id
    product_classes: tuple[str, ...] = Field(min_length=1)
    pcrs: tuple[PcrRule, ...] = Field(min_length=1)
    standards: frozenset[Standard] = Field(min_length=1)
    accepts_provisional: bool = False
    endpoints: tuple[Endpoint, ...] = ()

    @field_validator("product_classes")
    @classmethod
    def _classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if classification_key(code) is None:
                raise ValueError(f"product class {code!r} is not 'scheme:code' (e.g. 'hs:8505.11')")
        return value

    @model_validator(mode="after")
    def _unique_endpoints(self) -> RecognitionAgreement:
        ids = [e.endpoint_id for e in self.endpoints]
        if len(ids) != len(set(ids)):
            raise ValueError("endpoint ids must be unique within an agreement")
        return self

    @property
    def formats(self) -> frozenset[DeliveryFormat]:
        return frozenset(e.format for e in self.endpoints if e.enabled)


@dataclass(frozen=True, slots=True)
class Decision:
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


def viewer_of(agreement: RecognitionAgreement) -> Viewer:
    return Viewer(accepts_provisional=agreement.accepts_provisional)


def recognises(
    agreement: RecognitionAgreement,
    footprint: footprint_pb2.FootprintVersion,
    *,
    standards: Collection[Standard | str] | None = None,
) -> Decision:
    """Does ``agreement`` recognise this footprint version, and may its partner see it now?

    ``standards``: what the version conforms to (default: the version's own, from its PCR, else the
    programme's). Visibility follows ``epd_records.status``."""
    if standards is None:
        standards = list(footprint.standards) or PROGRAMME_STANDARDS
    partner = agreement.partner_id
    status = status_name(footprint.status)
    if served_status(footprint, viewer_of(agreement)) is None:
        if status == "provisional":
            return Decision(False, f"{partner} does not accept provisional versions")
        return Decision(False, f"a {status} version is not served to {partner}")

    keys = [k for k in (classification_key(c) for c in footprint.classifications) if k]
    if not keys:
        return Decision(False, "footprint has no well-formed classification code")
    wanted = [classification_key(p) for p in agreement.product_classes]
    matched = next((p for p in wanted if p and any(s == p[0] and c.startswith(p[1]) for s, c in keys)), None)
    if matched is None:
        return Decision(False, f"product class not recognised by {partner}")

    pcr_id, pcr_version = footprint.pcr_id, footprint.pcr_version
    if not pcr_id.strip():
        return Decision(False, "footprint has no PCR")
    if not any(rule.matches(pcr_id, pcr_version) for rule in agreement.pcrs):
        return Decision(False, f"PCR {pcr_id} {pcr_version} not recognised by {partner}")

    declared = set()
    for s in standards:
        try:
            declared.add(Standard(s))
        except ValueError:
            continue
    common = declared & agreement.standards
    if not common:
        return Decision(False, f"none of the footprint's standards is recognised by {partner}")
    return Decision(
        True,
        f"recognised by {partner}: class {':'.join(matched)}, PCR {pcr_id} {pcr_version}, "
        f"{', '.join(sorted(common))}, status {status}",
    )


def unknown_pcr_rules(agreement: RecognitionAgreement, registered: Mapping[str, Collection[str]]) -> list[str]:
    """What in the agreement's PCR rules names no registered PCR version (empty: every rule matches one).

    ``registered``: PCR id -> its registered versions. A rule for an unknown id, or whose versions or
    range match none of the registered versions, would silently recognise nothing."""
    problems = []
    for rule in agreement.pcrs:
        versions = registered.get(rule.pcr_id)
        if not versions:
            problems.append(f"PCR {rule.pcr_id} is not registered")
        elif not any(rule.matches(rule.pcr_id, version) for version in versions):
            listed = ", ".join(sorted(versions))
            problems.append(f"no registered version of PCR {rule.pcr_id} matches the rule (registered: {listed})")
    return problems


def delivers(agreement: RecognitionAgreement, event: footprint_pb2.FootprintChanged) -> Decision:
    """Does this change go to the partner: it recognises the version, and the change alters what it sees."""
    decision = recognises(agreement, event.footprint)
    if decision and not change_concerns(event.change_type, viewer_of(agreement)):
        return Decision(False, f"the change does not alter what {agreement.partner_id} sees")
    return decision
