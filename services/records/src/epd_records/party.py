"""Facts the FootprintVersion proto does not carry: who owns the record, the programme, product details.

The gateway's data layer fills these from the organisation/product/programme tables; the format
mappings take them as plain values so that they stay pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from epd_records.errors import MappingError

_URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+$", re.IGNORECASE)


def check_urn(value: str, what: str) -> str:
    """Return `value` if it is an RFC 8141 URN, else raise MappingError naming `what`."""
    if not isinstance(value, str) or len(value) > 512 or not _URN.match(value):
        raise MappingError(f"{what} must be a URN (RFC 8141) of at most 512 characters, got {value!r:.80}")
    return value


@dataclass(frozen=True)
class OrganisationInfo:
    """The data owner (the plant operator) as PACT and ILCD name it."""

    name: str
    company_ids: tuple[str, ...]  # URNs, e.g. "urn:pact:company:cn-uscc:91150200MA0N0XYZ1K"
    web_domain: str | None = None  # openEPD Org.web_domain, e.g. "baotou-re.example.cn"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise MappingError("organisation name must not be empty")
        if not self.company_ids:
            raise MappingError("organisation needs at least one company id (URN)")
        for cid in self.company_ids:
            check_urn(cid, "company id")
        if len(set(cid.lower() for cid in self.company_ids)) != len(self.company_ids):
            raise MappingError("company ids must be unique (compared case-insensitively)")


@dataclass(frozen=True)
class ProgrammeInfo:
    """The national EPD programme operator and the conventions of its records."""

    operator_name: str
    # PACT ProductOrSectorSpecificRule.operator: "PEF", "EPD International" or "Other".
    pcr_operator: str = "Other"
    # Base URL of the programme's published extension schemas (PACT DataModelExtension.dataSchema).
    extension_base_url: str = "https://epd.example.cn/pact/extensions"
    # PACT CarbonFootprint.crossSectoralStandards; hosts must accept values outside the listed enum.
    cross_sectoral_standards: tuple[str, ...] = ("ISO14067", "ISO14040-44")
    # Standards the programme declares compliance with (ILCD complianceDeclarations, openEPD compliance).
    compliance: tuple[str, ...] = ("EN 15804+A2", "ISO 14025")
    product_id_prefix: str = "urn:pact:epd.example.cn:product-id:"

    def __post_init__(self) -> None:
        if not self.operator_name.strip():
            raise MappingError("programme operator name must not be empty")
        if self.pcr_operator not in ("PEF", "EPD International", "Other"):
            raise MappingError(f"pcr_operator must be PEF, EPD International or Other, got {self.pcr_operator!r}")
        if not self.extension_base_url.startswith("https://"):
            raise MappingError("extension_base_url must be an https:// URL")
        if not self.cross_sectoral_standards:
            raise MappingError("cross_sectoral_standards must not be empty")
        check_urn(self.product_id_prefix + "x", "product id prefix")


@dataclass(frozen=True)
class ProductInfo:
    """Product facts beyond the proto; defaults suit rare-earth oxides and metals."""

    description: str = ""
    # PACT fossilCarbonContent, kg C per declared unit. Rare-earth oxides, metals and magnets
    # contain no fossil carbon, hence 0 unless the product table says otherwise.
    fossil_carbon_content: Decimal = Decimal("0")
    # Needed only when the declared unit is not a mass (e.g. "1 piece").
    mass_per_declared_unit_kg: Decimal | None = None
    exempted_emissions_percent: Decimal = Decimal("0")
    # PACT ipccCharacterizationFactors; DESIGN.md uses AR6 GWP-100 values by default.
    ipcc_characterization_factors: tuple[str, ...] = ("AR6",)
    extra_product_ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for ar in self.ipcc_characterization_factors:
            if not re.fullmatch(r"AR\d{1,2}", ar):
                raise MappingError(f"IPCC characterization factor must look like AR6, got {ar!r}")
        if not self.ipcc_characterization_factors:
            raise MappingError("ipcc_characterization_factors must not be empty")
        for pid in self.extra_product_ids:
            check_urn(pid, "product id")
        if self.fossil_carbon_content < 0:
            raise MappingError("fossil carbon content must be >= 0")
        if not Decimal(0) <= self.exempted_emissions_percent <= Decimal(100):
            raise MappingError("exempted emissions percent must be between 0 and 100")
        if self.mass_per_declared_unit_kg is not None and self.mass_per_declared_unit_kg <= 0:
            raise MappingError("mass per declared unit must be > 0")


@dataclass(frozen=True)
class PartyInfo:
    """Everything a mapping needs besides the FootprintVersion itself."""

    organisation: OrganisationInfo
    programme: ProgrammeInfo
    product: ProductInfo = field(default_factory=ProductInfo)
