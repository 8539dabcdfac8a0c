"""Recognition filter: only what a partner recognises reaches it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from epd.v1 import footprint_pb2
from epd_records.recognition import (
    DeliveryFormat,
    PcrRule,
    RecognitionAgreement,
    Standard,
    classification_key,
    delivers,
    parse_version,
    recognises,
)

MAGNET_PCR = "PCR 2019:14 permanent magnets"
OTHER_PCR = "PCR 2021:03 magnets (other programme)"
S = footprint_pb2.FootprintStatus


def version(classes=("hs:8505.11",), pcr=MAGNET_PCR, pcr_version="1.2", status=S.FOOTPRINT_STATUS_PUBLISHED):
    return footprint_pb2.FootprintVersion(
        pf_id="urn:uuid:5e0f5c2e-1b7c-4f39-9d33-1f0f6e0c2a11",
        product_id="p-magnet",
        classifications=list(classes),
        pcr_id=pcr,
        pcr_version=pcr_version,
        status=status,
    )


def magnets_only(**overrides) -> RecognitionAgreement:
    data = {
        "partner_id": "jp-sumi",
        "product_classes": ("hs:8505.11",),
        "pcrs": (PcrRule(pcr_id=MAGNET_PCR, min_version="1.0", below_version="2.0"),),
        "standards": {Standard.EN_15804_A2},
        "endpoints": ({"endpoint_id": "e1", "url": "https://jp.example/3/events", "format": "pact"},),
    }
    return RecognitionAgreement(**{**data, **overrides})


def test_magnets_under_the_recognised_pcr_match() -> None:
    decision = recognises(magnets_only(), version())
    assert decision.ok and bool(decision)
    assert "hs:850511" in decision.reason and MAGNET_PCR in decision.reason


@pytest.mark.parametrize(
    "fv",
    [
        version(classes=("hs:2846.90",)),  # rare-earth oxides
        version(classes=("hs:2805.30",)),  # rare-earth metals
        version(classes=("cpc:8505.11",)),  # right digits, other scheme
        version(pcr=OTHER_PCR),  # magnets under another PCR
        version(pcr_version="2.0"),  # outside the recognised range
        version(pcr_version="0.9"),
        version(pcr_version="draft-3"),
        version(pcr=""),
        version(classes=()),
        version(classes=("garbage", "hs:", "::", "x" * 500)),
    ],
)
def test_a_magnets_only_partner_never_gets_oxides_nor_magnets_under_another_pcr(fv) -> None:
    decision = recognises(magnets_only(), fv)
    assert not decision.ok and decision.reason


def test_prefixes_match_whole_classes_case_and_dots_insensitive() -> None:
    agreement = magnets_only(product_classes=("HS:8505",))
    assert recognises(agreement, version(classes=("hs:8505.19",))).ok
    assert recognises(agreement, version(classes=("hs:850511",))).ok
    assert not recognises(agreement, version(classes=("hs:8504.11",))).ok


@pytest.mark.parametrize(
    ("status", "accepts", "ok"),
    [
        (S.FOOTPRINT_STATUS_PUBLISHED, False, True),
        (S.FOOTPRINT_STATUS_PROVISIONAL, False, False),
        (S.FOOTPRINT_STATUS_PROVISIONAL, True, True),
        (S.FOOTPRINT_STATUS_DRAFT, True, False),
        (S.FOOTPRINT_STATUS_VERIFIED, True, False),
        (S.FOOTPRINT_STATUS_DEPRECATED, False, True),
        (S.FOOTPRINT_STATUS_EXPIRED, False, True),
        (S.FOOTPRINT_STATUS_UNSPECIFIED, True, False),
        (999, True, False),
    ],
)
def test_status_and_provisional_acceptance(status: int, accepts: bool, ok: bool) -> None:
    fv = version()
    fv.status = status if status != 999 else 0
    assert recognises(magnets_only(accepts_provisional=accepts), fv).ok is ok


@pytest.mark.parametrize(
    ("was_published", "accepts", "ok"),
    [(True, False, True), (True, True, True), (False, False, False), (False, True, True)],
)
def test_a_withdrawn_version_reaches_those_who_could_see_it(was_published: bool, accepts: bool, ok: bool) -> None:
    """Withdrawn after publication: everyone hears of it. Withdrawn (rejected) while provisional: only
    the partners that saw it as provisional."""
    fv = version(status=S.FOOTPRINT_STATUS_WITHDRAWN)
    if was_published:
        fv.valid_from.FromSeconds(1_767_225_600)
    assert recognises(magnets_only(accepts_provisional=accepts), fv).ok is ok


def test_a_successor_change_goes_only_to_partners_that_see_provisional_versions() -> None:
    event = footprint_pb2.FootprintChanged(
        change_type=footprint_pb2.FOOTPRINT_CHANGE_TYPE_SUCCESSOR_CHANGED, footprint=version()
    )
    assert delivers(magnets_only(accepts_provisional=True), event).ok
    decision = delivers(magnets_only(accepts_provisional=False), event)
    assert not decision.ok and "does not alter" in decision.reason
    event.change_type = footprint_pb2.FOOTPRINT_CHANGE_TYPE_PUBLISHED
    assert delivers(magnets_only(accepts_provisional=False), event).ok


def test_standards_must_overlap() -> None:
    iso14067_only = magnets_only(standards={Standard.ISO_14067})
    assert not recognises(iso14067_only, version()).ok  # programme default: EN 15804+A2, ISO 14025
    assert recognises(iso14067_only, version(), standards=["ISO 14067", "nonsense"]).ok


def test_exact_pcr_versions() -> None:
    agreement = magnets_only(pcrs=(PcrRule(pcr_id=MAGNET_PCR, versions=("1.2",)),))
    assert recognises(agreement, version(pcr_version="1.2")).ok
    assert not recognises(agreement, version(pcr_version="1.2.1")).ok


def test_any_version_of_a_pcr() -> None:
    agreement = magnets_only(pcrs=(PcrRule(pcr_id=MAGNET_PCR),))
    assert recognises(agreement, version(pcr_version="anything")).ok


def test_formats_come_from_enabled_endpoints() -> None:
    agreement = magnets_only(
        endpoints=(
            {"endpoint_id": "a", "url": "https://x.example/3/events", "format": "pact"},
            {"endpoint_id": "b", "url": "https://x.example/hook", "format": "webhook-openepd", "enabled": False},
        )
    )
    assert agreement.formats == {DeliveryFormat.PACT}


@pytest.mark.parametrize(
    "overrides",
    [
        {"product_classes": ()},
        {"product_classes": ("8505.11",)},
        {"product_classes": ("hs:85;drop",)},
        {"pcrs": ()},
        {"standards": set()},
        {"standards": {"ISO 9001"}},
        {"partner_id": ""},
        {"partner_id": "a\x00b"},
        {"endpoints": ({"endpoint_id": "e", "url": "https://x", "format": "smtp"},)},
        {"endpoints": ({"endpoint_id": "e", "url": "https://x", "format": "pact"},) * 2},
        {"unexpected": 1},
    ],
)
def test_malformed_agreements_are_refused(overrides: dict) -> None:
    with pytest.raises(ValidationError):
        magnets_only(**overrides)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pcr_id": "x", "versions": ("1",), "min_version": "1"},
        {"pcr_id": "x", "min_version": "one"},
        {"pcr_id": "x", "min_version": "2", "below_version": "1.9"},
        {"pcr_id": "x", "min_version": "1.0", "below_version": "1"},
        {"pcr_id": ""},
    ],
)
def test_malformed_pcr_rules_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        PcrRule(**kwargs)


def test_helpers() -> None:
    assert classification_key(" HS:8505.11 ") == ("hs", "850511")
    assert classification_key(None) is None
    assert parse_version("1.2.0") == parse_version("1.2") == (1, 2)
    assert parse_version("1.10") > parse_version("1.9")
    assert parse_version("1.x") is None
