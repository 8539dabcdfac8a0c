"""Fan-out rules through the in-memory FanoutStore: which partners and endpoints get a change. No I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from publisher_fakes import MemoryFanoutStore

from epd.v1 import footprint_pb2
from epd_publisher.fanout import PartnerTargets, fan_out
from epd_records.recognition import PcrRule, RecognitionAgreement, Standard

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
MAGNET_PCR = "PCR 2019:14 permanent magnets"
S = footprint_pb2.FootprintStatus


def agreement(partner_id: str, classes=("hs:8505",), accepts_provisional: bool = False) -> RecognitionAgreement:
    return RecognitionAgreement(
        partner_id=partner_id,
        product_classes=classes,
        pcrs=(PcrRule(pcr_id=MAGNET_PCR),),
        standards=frozenset({Standard.EN_15804_A2}),
        accepts_provisional=accepts_provisional,
    )


def event(status=S.FOOTPRINT_STATUS_PUBLISHED, event_id: str | None = None) -> footprint_pb2.FootprintChanged:
    return footprint_pb2.FootprintChanged(
        event_id=event_id or str(uuid.uuid4()),
        product_id="magnet-a",
        version=2,
        change_type=footprint_pb2.FOOTPRINT_CHANGE_TYPE_PUBLISHED
        if status == S.FOOTPRINT_STATUS_PUBLISHED
        else footprint_pb2.FOOTPRINT_CHANGE_TYPE_CREATED,
        product_sequence=7,
        footprint=footprint_pb2.FootprintVersion(
            pf_id=f"urn:uuid:{uuid.uuid4()}",
            product_id="magnet-a",
            classifications=["hs:8505.11"],
            pcr_id=MAGNET_PCR,
            pcr_version="1.0",
            status=status,
        ),
    )


TARGETS = [
    PartnerTargets(agreement("jp-body"), ("jp-hook", "jp-pact")),
    PartnerTargets(agreement("kr-body", classes=("hs:2846",)), ("kr-hook",)),  # oxides only
]


async def test_each_endpoint_of_each_recognising_partner_gets_one_delivery():
    store, change = MemoryFanoutStore(), event()
    assert await fan_out(store, change, TARGETS, NOW) == 2
    assert sorted(store.created) == [(change.event_id, "jp-hook"), (change.event_id, "jp-pact")]
    delivery = store.created[(change.event_id, "jp-hook")]
    assert (delivery.partner_id, delivery.product_id, delivery.product_sequence) == ("jp-body", "magnet-a", 7)
    assert delivery.next_attempt_at == NOW
    assert footprint_pb2.FootprintChanged.FromString(delivery.payload) == change


async def test_a_reconsumed_event_creates_nothing_new():
    store, change = MemoryFanoutStore(), event()
    assert await fan_out(store, change, TARGETS, NOW) == 2
    assert await fan_out(store, change, TARGETS, NOW) == 0
    assert len(store.created) == 2


async def test_provisional_versions_go_only_to_partners_that_accept_them():
    store, change = MemoryFanoutStore(), event(S.FOOTPRINT_STATUS_PROVISIONAL)
    targets = [*TARGETS, PartnerTargets(agreement("de-body", accepts_provisional=True), ("de-hook",))]
    assert await fan_out(store, change, targets, NOW) == 1
    assert list(store.created) == [(change.event_id, "de-hook")]


async def test_an_event_id_that_is_not_a_uuid_creates_no_delivery():
    store = MemoryFanoutStore()
    assert await fan_out(store, event(event_id="outbox-17"), TARGETS, NOW) == 0
    assert store.created == {}
