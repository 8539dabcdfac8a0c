"""A footprint version's product category rule (PCR) in the record formats (pure).

The series' PCR version travels in FootprintVersion.pcr: PACT names it in
`productOrSectorSpecificRules` (operator and rule name from the PCR) and the record extension carries
what PACT has no field for (validity, declared unit, modules, cut-off rule, allocation methods);
ILCD+EPD references it as the LCA method details and declares its standards; openEPD fills `pcr`.
Versions of series registered before PCRs were carry only the PCR id and version, with the
programme's operator, as before.
"""

from __future__ import annotations

import re
from typing import Any

from epd.v1 import footprint_pb2
from epd_records import values as v
from epd_records.errors import MappingError
from epd_records.party import PartyInfo

PACT_OPERATORS = ("PEF", "EPD International", "Other")


def sector_rule(fv: footprint_pb2.FootprintVersion, party: PartyInfo) -> dict[str, Any] | None:
    """PACT ProductOrSectorSpecificRule from the series' PCR (the programme's operator without one)."""
    if fv.HasField("pcr"):
        pcr = fv.pcr
        if pcr.operator not in PACT_OPERATORS:
            raise MappingError(f"PCR operator must be one of {PACT_OPERATORS}, got {pcr.operator!r}")
        v.text(pcr.name, "PCR name", required=True, max_len=300)
        rule: dict[str, Any] = {
            "operator": pcr.operator,
            "ruleNames": [pcr_label(fv)],
        }
        if pcr.operator == "Other":
            rule["otherOperatorName"] = v.text(pcr.operator_name, "PCR operator name", required=True, max_len=300)
        return rule
    pcr_id = v.text(fv.pcr_id, "PCR id", max_len=200)
    if not pcr_id:
        return None
    rule = {
        "operator": party.programme.pcr_operator,
        "ruleNames": [f"{pcr_id} {v.text(fv.pcr_version, 'PCR version', max_len=40)}".strip()],
    }
    if party.programme.pcr_operator == "Other":
        rule["otherOperatorName"] = party.programme.operator_name
    return rule


def characterization_factors(fv: footprint_pb2.FootprintVersion, party: PartyInfo) -> list[str]:
    """PACT ipccCharacterizationFactors: the version's GWP set (e.g. AR6), else the product default."""
    if re.fullmatch(r"AR\d{1,2}", fv.gwp_set):
        return [fv.gwp_set]
    return list(dict.fromkeys(party.product.ipcc_characterization_factors))


def pcr_summary(pcr: footprint_pb2.ProductCategoryRule) -> dict[str, Any]:
    """What a record says of its PCR beyond PACT's rule name: validity, declared unit, modules, cut-off."""
    return {
        "id": pcr.pcr_id,
        "version": pcr.version,
        "name": pcr.name,
        "validFrom": pcr.valid_from.ToDatetime().date().isoformat(),
        "validUntil": pcr.valid_until.ToDatetime().date().isoformat(),
        "declaredUnit": f"{pcr.declared_unit_amount} {pcr.declared_unit}",
        "modules": list(pcr.modules),
        "cutOffRule": pcr.cut_off_rule,
        "allocationMethods": list(pcr.allocation_methods),
        "gwpSet": pcr.gwp_set,
        "standards": list(pcr.standards),
    }


def pcr_label(fv: footprint_pb2.FootprintVersion) -> str:
    """'<id> <version>: <name>' of the series' PCR, '<id> <version>' without a registered one, or ''."""
    if fv.HasField("pcr"):
        return f"{fv.pcr.pcr_id} {fv.pcr.version}: {fv.pcr.name}"
    pcr_id = v.text(fv.pcr_id, "PCR id", max_len=200)
    return f"{pcr_id} {v.text(fv.pcr_version, 'PCR version', max_len=40)}".strip() if pcr_id else ""
