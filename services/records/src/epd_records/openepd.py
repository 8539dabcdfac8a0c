"""FootprintVersion -> openEPD document (JSON-ready dict) built with the `openepd` package's models.

openEPD measurements are floats (its `Measurement.mean`), so the exact decimal strings, the PACT id,
the preceding versions and the record status travel in the document's `ext.epd_platform` block.
openEPD ids use the Open xPD UUID format, which our UUIDs are not, so `id` is left unset.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from openepd.model.common import Measurement, NonNegativeAmount
from openepd.model.epd import Epd
from openepd.model.lcia import Impacts, ImpactSet, ScopeSetGwp
from openepd.model.org import Org
from openepd.model.pcr import Pcr
from openepd.model.standard import Standard
from openepd.model.validation.quantity import AmountMass

from epd.v1 import footprint_pb2
from epd_records import values as v
from epd_records.errors import MappingError
from epd_records.pact import pact_status, record_status, verified
from epd_records.party import PartyInfo
from epd_records.status import PUBLIC, Viewer

EXT_KEY = "epd_platform"
LCIA_METHOD = "EF 3.1"  # EN 15804+A2 characterisation (openepd LCIAMethod.EF_3_1)
_SCOPES = {"A1": "A1", "A2": "A2", "A3": "A3", "A1-A3": "A1A2A3"}
_IMPACTS = {"GWP-total": "gwp", "GWP-fossil": "gwp_fossil", "GWP-biogenic": "gwp_biogenic", "GWP-luluc": "gwp_luluc"}


def _impacts(table: v.ResultTable) -> Impacts:
    sets: dict[str, ScopeSetGwp] = {}
    for (module, indicator), value in table.items():
        scopes = sets.setdefault(_IMPACTS[indicator], ScopeSetGwp())
        setattr(scopes, _SCOPES[module], Measurement(mean=float(value), unit="kgCO2e"))
    return Impacts({LCIA_METHOD: ImpactSet.model_validate(sets)})


def _classes(fv: footprint_pb2.FootprintVersion) -> dict[str, str | list[str]]:
    out: dict[str, list[str]] = {}
    for code in fv.classifications:
        scheme, sep, value = v.text(code, "classification", required=True, max_len=120).partition(":")
        if not sep or not scheme or not value:
            raise MappingError(f"classification must be <scheme>:<code>, got {code!r:.80}")
        out.setdefault(scheme.lower(), []).append(value)
    return {k: vals[0] if len(vals) == 1 else vals for k, vals in out.items()}


def pcr_document(fv: footprint_pb2.FootprintVersion) -> Pcr | None:
    """openEPD `pcr` from the series' PCR version (its id and version only without a registered one)."""
    if fv.HasField("pcr"):
        return Pcr(
            name=f"{fv.pcr.name} ({fv.pcr.pcr_id})",
            version=fv.pcr.version,
            date_of_issue=fv.pcr.valid_from.ToDatetime(tzinfo=UTC),
            valid_until=fv.pcr.valid_until.ToDatetime(tzinfo=UTC),
            issuer=Org(name=fv.pcr.operator_name),
        )
    pcr_id = v.text(fv.pcr_id, "PCR id", max_len=200)
    return Pcr(name=pcr_id, version=v.text(fv.pcr_version, "PCR version", max_len=40) or None) if pcr_id else None


def openepd_document(fv: footprint_pb2.FootprintVersion, party: PartyInfo, viewer: Viewer = PUBLIC) -> dict[str, Any]:
    """Serialise one EPD version as openEPD; MappingError says why it cannot be."""
    pact_status(fv, viewer)  # the same visibility rule as the PACT record
    table = v.result_table(fv)
    unit = v.declared_unit(fv.declared_unit, party.product.mass_per_declared_unit_kg)
    pf_id = v.pf_uuid(fv.pf_id, "pf id")
    preceding = [v.pf_uuid(p, "preceding pf id") for p in fv.preceding_pf_ids]
    valid_from = v.timestamp(fv, "valid_from", "valid_from", required=False)
    valid_until = v.timestamp(fv, "valid_until", "valid_until", required=False)
    if valid_from and valid_until and valid_until <= valid_from:
        raise MappingError("valid_until must be after valid_from")
    verifier = v.text(fv.verifier, "verifier", max_len=200)
    reviewed = bool(verifier) and verified(fv)
    pcr = pcr_document(fv)
    org = party.organisation
    operator = v.text(fv.programme_operator, "programme operator", max_len=200) or party.programme.operator_name
    ext = {
        "pf_id": pf_id,
        "preceding_pf_ids": preceding,
        "record_status": record_status(fv.status),
        "status_reason": v.text(fv.reason, "reason", max_len=2000),
        "series_id": v.text(fv.series_id, "series id", max_len=200),
        "factor_set_version": v.text(fv.factor_set_version, "factor set version", max_len=80),
        "gwp_set": v.text(fv.gwp_set, "GWP set", max_len=20),
        "standards": list(fv.standards),
        "evidence_root": fv.evidence_root,
        "audit_snapshot": fv.audit_snapshot,
        "results": {f"{m} {i}": v.wire_decimal(val) for (m, i), val in sorted(table.items())},
    }
    try:
        doc = Epd(
            date_of_issue=valid_from,
            valid_until=valid_until,
            version=fv.version,
            declared_unit=NonNegativeAmount(
                qty=float(unit.amount), unit="kg" if unit.pact_unit == "kilogram" else "item"
            ),
            kg_per_declared_unit=AmountMass(qty=float(unit.mass_kg), unit="kg") if unit.mass_kg else None,
            compliance=[Standard(short_name=s, name=s) for s in (fv.standards or party.programme.compliance)],
            product_classes=_classes(fv),
            language="en",
            pcr=pcr,
            program_operator=Org(name=operator),
            program_operator_doc_id=v.text(fv.registration_number, "registration number", max_len=200) or None,
            third_party_verifier=Org(name=verifier) if reviewed else None,
            manufacturer=Org(name=org.name, web_domain=org.web_domain),
            product_name=v.text(fv.product_name, "product name", required=True, max_len=200),
            product_description=v.text(party.product.description, "product description") or None,
            impacts=_impacts(table),
            ext={EXT_KEY: ext},
        )
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise MappingError(f"openEPD model rejected the record: {exc}") from None
    return doc.to_serializable(mode="json", exclude_none=True, by_alias=True)
