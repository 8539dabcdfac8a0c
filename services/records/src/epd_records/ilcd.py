"""FootprintVersion -> ILCD+EPD v1.2 process data set (XML bytes), valid against EPD_DataSet.xsd.

Results are module-resolved (A1, A2, A3, A1-A3) as `epd:amount` elements with `epd:module`
attributes inside each LCIAResult, which references its EN 15804+A2 indicator by UUID. The record
status has no slot in the EPD data set (workflowAndPublicationStatus is not part of it), so the
status and its reason lead the general comment; provisional records say so there.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from lxml import etree

from epd.v1 import footprint_pb2
from epd_records import values as v
from epd_records.errors import MappingError
from epd_records.pact import pact_status, record_status, verified
from epd_records.party import PartyInfo
from epd_records.pcr import pcr_label
from epd_records.status import PUBLIC, Viewer

NS_PROCESS = "http://lca.jrc.it/ILCD/Process"
NS_COMMON = "http://lca.jrc.it/ILCD/Common"
NS_EPD = "http://www.iai.kit.edu/EPD/2013"
NS_EPD2 = "http://www.indata.network/EPD/2019"
NSMAP = {None: NS_PROCESS, "common": NS_COMMON, "epd": NS_EPD, "epd2": NS_EPD2}


class Ref(NamedTuple):
    uuid: str
    version: str
    name: str


# Source: ILCD+EPD identifiers, EN15804+A2_EF3.1_indicators.csv (LCIA method data sets, EF 3.1).
INDICATORS = {
    "GWP-total": Ref(
        "a7ea142a-9749-11ed-a8fc-0242ac120002", "01.00.000", "Global Warming Potential - total (GWP-total)"
    ),
    "GWP-fossil": Ref(
        "a7ea19c0-9749-11ed-a8fc-0242ac120002", "01.00.000", "Global Warming Potential - fossil fuels (GWP-fossil)"
    ),
    "GWP-biogenic": Ref(
        "a7ea186c-9749-11ed-a8fc-0242ac120002", "01.00.000", "Global Warming Potential - biogenic (GWP-biogenic)"
    ),
    "GWP-luluc": Ref(
        "a7ea1ae2-9749-11ed-a8fc-0242ac120002",
        "01.00.000",
        "Global Warming Potential - land use and land use change (GWP-luluc)",
    ),
}
# Same file: unit group of the four GWP indicators ("kg CO2 eqv.").
KG_CO2E_UNIT_GROUP = Ref("1ebf3012-d0db-4de2-aefd-ef30cedb0be1", "", "kg CO2 eqv.")
# Source: ILCD+EPD identifiers, Common_references.csv (source data sets).
COMPLIANCE = {
    "EN 15804+A2": Ref("d4aa3ec7-b1d7-4a4a-a6cb-37af88dcc902", "", "EN 15804+A2 (EF 3.1)"),
    "ISO 14025": Ref("4f2eb655-6e44-4874-a95a-e28f5442cd4d", "", "ISO 14025"),
    "ISO 21930": Ref("9c1e8451-2321-4498-b459-b6568b6b6547", "", "ISO 21930"),
}
ILCD_FORMAT = Ref("a97a0155-0234-4b87-b4ce-a45da52f2a40", "", "ILCD Format")
EPD_FORMAT_1_2 = Ref("a29449fd-aa2f-4de8-b5d7-4b06b43c6fde", "", "EPD Data Format Extensions v1.2")

_MODULE_ORDER = ("A1", "A2", "A3", "A1-A3")


def _c(tag: str) -> str:
    return f"{{{NS_COMMON}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, {k.replace("__", ":"): val for k, val in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _ref(parent: etree._Element, tag: str, kind: str, ref: Ref, uri: str | None = None) -> etree._Element:
    attrs = {"type": kind, "refObjectId": ref.uuid}
    if ref.version:
        attrs["version"] = ref.version
    if uri:
        attrs["uri"] = uri
    el = etree.SubElement(parent, tag, attrs)
    _lang(el, _c("shortDescription"), ref.name)
    return el


def _lang(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, tag)
    el.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    el.text = text
    return el


def dataset_version(version: int) -> str:
    """Our version counter -> ILCD 'NN.NN.NNN' (version 3 -> '00.03.000')."""
    if not 0 < version < 10000:
        raise MappingError(f"version {version} cannot be written as an ILCD data set version")
    return f"{version // 100:02d}.{version % 100:02d}.000"


def _process_information(root: etree._Element, fv: footprint_pb2.FootprintVersion, party: PartyInfo) -> None:
    info = _sub(root, "processInformation")
    ds = _sub(info, "dataSetInformation")
    _sub(ds, _c("UUID"), v.pf_uuid(fv.pf_id, "pf id"))
    name = _sub(ds, "name")
    _lang(name, "baseName", v.text(fv.product_name, "product name", required=True, max_len=300))
    classes = [v.text(c, "classification", required=True, max_len=120) for c in fv.classifications]
    if classes:
        ci = _sub(ds, "classificationInformation")
        for code in classes:
            scheme, _, value = code.partition(":")
            cl = _sub(ci, _c("classification"), name=scheme or "other")
            _sub(cl, _c("class"), value or code, level="0")
    status = record_status(fv.status)
    reason = v.text(fv.reason, "reason", max_len=2000)
    comment = f"Record status: {status}." + (f" Reason: {reason}" if reason else "")
    if fv.status == footprint_pb2.FOOTPRINT_STATUS_PROVISIONAL:
        comment = "PROVISIONAL, not yet verified. " + comment
    _lang(ds, _c("generalComment"), comment)
    _sub(_sub(info, "quantitativeReference", type="Reference flow(s)"), "referenceToReferenceFlow", "0")
    time = _sub(info, "time")
    start = v.timestamp(fv, "reference_period_start", "reference period start")
    end = v.timestamp(fv, "reference_period_end", "reference period end")
    assert start is not None and end is not None
    if end <= start:
        raise MappingError("reference period end must be after its start")
    _sub(time, _c("referenceYear"), str(start.year))
    valid_until = v.timestamp(fv, "valid_until", "valid_until", required=False)
    if valid_until:
        _sub(time, _c("dataSetValidUntil"), str(valid_until.year))
    _lang(
        time,
        _c("timeRepresentativenessDescription"),
        f"Reference period {v.iso(start)} to {v.iso(end)} (end exclusive).",
    )
    valid_from = v.timestamp(fv, "valid_from", "valid_from", required=False)
    if valid_from:
        if valid_until and valid_until <= valid_from:
            raise MappingError("valid_until must be after valid_from")
        _sub(_sub(time, _c("other")), f"{{{NS_EPD2}}}publicationDateOfEPD", valid_from.date().isoformat())
    geo = v.text(fv.geography, "geography", max_len=60) or "GLO"
    _sub(_sub(info, "geography"), "locationOfOperationSupplyOrProduction", location=geo)


def _modelling(root: etree._Element, fv: footprint_pb2.FootprintVersion, party: PartyInfo) -> None:
    mv = _sub(root, "modellingAndValidation")
    lci = _sub(mv, "LCIMethodAndAllocation")
    _sub(lci, "typeOfDataSet", "EPD")
    pcr_name = pcr_label(fv)
    if pcr_name:
        _ref(lci, "referenceToLCAMethodDetails", "source data set", Ref(_name_uuid("pcr", pcr_name), "", pcr_name))
    _sub(_sub(lci, _c("other")), f"{{{NS_EPD}}}subType", "specific dataset")
    verifier = v.text(fv.verifier, "verifier", max_len=200)
    validation = _sub(mv, "validation")
    reviewed = bool(verifier) and verified(fv)
    review = _sub(validation, "review", type="Independent external review" if reviewed else "Not reviewed")
    if reviewed:
        _ref(
            review,
            _c("referenceToNameOfReviewerAndInstitution"),
            "contact data set",
            Ref(_name_uuid("contact", verifier), "", verifier),
        )
    declarations = _sub(mv, "complianceDeclarations")
    for standard in compliance(fv, party):
        ref = COMPLIANCE[standard]
        _ref(_sub(declarations, "compliance"), _c("referenceToComplianceSystem"), "source data set", ref)


def compliance(fv: footprint_pb2.FootprintVersion, party: PartyInfo) -> list[str]:
    """The standards the data set declares: the version's (from its PCR) that ILCD has a compliance
    system for (ISO 14067 has none), else the programme's, each of which must have one."""
    if fv.standards:
        known = [s for s in fv.standards if s in COMPLIANCE]
        if known:
            return known
    for standard in party.programme.compliance:
        if standard not in COMPLIANCE:
            raise MappingError(f"no ILCD compliance system is known for {standard!r} (known: {sorted(COMPLIANCE)})")
    return list(party.programme.compliance)


def _name_uuid(kind: str, name: str) -> str:
    """Stable UUID for a referenced contact/source known only by name (the record carries no UUID)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:epd-platform:{kind}:{name}"))


def _administrative(root: etree._Element, fv: footprint_pb2.FootprintVersion, party: PartyInfo) -> None:
    admin = _sub(root, "administrativeInformation")
    entry = _sub(admin, "dataEntryBy")
    created = v.timestamp(fv, "created_at", "created_at")
    assert created is not None
    _sub(entry, _c("timeStamp"), v.iso(created))
    _ref(entry, _c("referenceToDataSetFormat"), "source data set", ILCD_FORMAT)
    _ref(entry, _c("referenceToDataSetFormat"), "source data set", EPD_FORMAT_1_2)
    pub = _sub(admin, "publicationAndOwnership")
    _sub(pub, _c("dataSetVersion"), dataset_version(fv.version))
    pf_id = v.pf_uuid(fv.pf_id, "pf id")
    for preceding in fv.preceding_pf_ids:
        pid = v.pf_uuid(preceding, "preceding pf id")
        if pid == pf_id:
            raise MappingError("a footprint version cannot precede itself")
        _ref(pub, _c("referenceToPrecedingDataSetVersion"), "process data set", Ref(pid, "", "preceding version"))
    operator = v.text(fv.programme_operator, "programme operator", max_len=200) or party.programme.operator_name
    _ref(
        pub,
        _c("referenceToRegistrationAuthority"),
        "contact data set",
        Ref(_name_uuid("contact", operator), "", operator),
    )
    registration = v.text(fv.registration_number, "registration number", max_len=200)
    if registration:
        _sub(pub, _c("registrationNumber"), registration)
    owner = party.organisation.name
    _ref(pub, _c("referenceToOwnershipOfDataSet"), "contact data set", Ref(_name_uuid("contact", owner), "", owner))


def _exchanges_and_results(root: etree._Element, fv: footprint_pb2.FootprintVersion, party: PartyInfo) -> None:
    unit = v.declared_unit(fv.declared_unit, party.product.mass_per_declared_unit_kg)
    table = v.result_table(fv)
    exchanges = _sub(root, "exchanges")
    ex = _sub(exchanges, "exchange", dataSetInternalID="0")
    product = v.text(fv.product_name, "product name", required=True, max_len=300)
    _ref(ex, "referenceToFlowDataSet", "flow data set", Ref(_name_uuid("flow", fv.product_id or product), "", product))
    _sub(ex, "exchangeDirection", "Output")
    _sub(ex, "meanAmount", v.wire_decimal(unit.amount))
    _sub(ex, "resultingAmount", v.wire_decimal(unit.amount))
    results = _sub(root, "LCIAResults")
    for indicator, ref in INDICATORS.items():
        amounts = [(m, table[(m, indicator)]) for m in _MODULE_ORDER if (m, indicator) in table]
        if not amounts:
            continue
        res = _sub(results, "LCIAResult")
        _ref(res, "referenceToLCIAMethodDataSet", "LCIA method data set", ref)
        other = _sub(res, _c("other"))
        for module, value in amounts:
            _sub(other, f"{{{NS_EPD}}}amount", v.wire_decimal(value), **{f"{{{NS_EPD}}}module": module})
        _ref(other, f"{{{NS_EPD}}}referenceToUnitGroupDataSet", "unit group data set", KG_CO2E_UNIT_GROUP)


def ilcd_epd_xml(fv: footprint_pb2.FootprintVersion, party: PartyInfo, viewer: Viewer = PUBLIC) -> bytes:
    """Serialise one EPD version as an ILCD+EPD v1.2 process data set; MappingError says why not."""
    pact_status(fv, viewer)  # the same visibility rule as the PACT record
    root = etree.Element("processDataSet", nsmap=NSMAP, version="1.1")
    root.set(f"{{{NS_EPD2}}}epd-version", "1.2")
    _process_information(root, fv, party)
    _modelling(root, fv, party)
    _administrative(root, fv, party)
    _exchanges_and_results(root, fv, party)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml
