"""process_batch on good data: normalised readings, deterministic ids, counters through the pipeline."""

import hashlib
from datetime import timedelta

import pytest
from ingest_support import METERS, NOW, PLANT, Plant, raw, ts

from epd.v1 import telemetry_pb2
from epd_ingest.pipeline import IngestState, process_batch
from epd_ingest.registry import InMemoryPlantRegistry, RegistryError, meter_from_mapping

RR = telemetry_pb2.RejectionReason


def ingest(p: Plant, *readings, now=NOW):
    return process_batch(p.bytes(*readings), p.registry, p.state, now, p.config)


def test_accepted_reading_is_normalised_and_traceable(plant: Plant):
    r = raw("roasting.electricity", "0.25", "MWh", at=ts(-60))
    res = ingest(plant, r)
    assert res.rejected == []
    (out,) = res.accepted
    assert (out.quantity, out.unit, out.plant_id, out.meter_id) == ("250", "kWh", PLANT, "roasting.electricity")
    assert out.process_id == f"{PLANT}/roasting" and out.activity == "electricity.grid"
    assert out.activity_kind == telemetry_pb2.ACTIVITY_KIND_ELECTRICITY
    assert out.reading_hash == hashlib.sha256(r.SerializeToString(deterministic=True)).hexdigest()
    assert out.observed_at == r.observed_at and out.ingested_at.ToDatetime().year == 2025
    assert len(out.reading_id) == 32 and out.batch_id


def test_reprocessing_with_fresh_state_gives_identical_ids(plant: Plant):
    record = plant.bytes(raw("roasting.coal", "2", "t"), raw("roasting.steam", "3500", "MJ", at=ts(-30)))
    a = process_batch(record, plant.registry, IngestState(), NOW, plant.config)
    b = process_batch(record, plant.registry, IngestState(), NOW, plant.config)
    assert [x.reading_id for x in a.accepted] == [x.reading_id for x in b.accepted]
    assert [(x.quantity, x.unit) for x in a.accepted] == [("2000", "kg"), ("3.5", "GJ")]
    assert len({x.reading_id for x in a.accepted}) == 2


def test_counter_deltas_with_rollover_and_reset(plant: Plant):
    m = "roasting.electricity-total"  # rollover 1000000 kWh
    values = ["999000", "999500", "200", "900", "4", "10"]  # wrap after 999500, reset after 900
    res = ingest(plant, *[raw(m, v, at=ts(-600 + 60 * i)) for i, v in enumerate(values)])
    assert res.rejected == []
    assert [r.quantity for r in res.accepted] == ["0", "500", "700", "700", "4", "6"]


def test_counter_state_spans_batches_and_units(plant: Plant):
    m = "roasting.natural-gas"
    ingest(plant, raw(m, "1000", "Nm3", at=ts(-120)))
    res = ingest(plant, raw(m, "1012.5", "Nm3", at=ts(-60)))
    assert [(r.quantity, r.unit) for r in res.accepted] == [("12.5", "Nm3")]
    res = ingest(plant, raw(m, "990", "Nm3", at=ts(-30)))
    assert [r.reason for r in res.rejected] == [RR.REJECTION_REASON_COUNTER_BACKWARDS]
    # a rejected value does not move the counter: the next good one is measured from 1012.5
    res = ingest(plant, raw(m, "1020", "Nm3", at=ts(-10)))
    assert [r.quantity for r in res.accepted] == ["7.5"]


def test_late_data_within_lateness_is_accepted_once(plant: Plant):
    ingest(plant, raw("roasting.electricity", "5", at=ts(-60)))
    late = raw("roasting.electricity", "7", at=NOW - timedelta(days=2))
    assert [r.quantity for r in ingest(plant, late).accepted] == ["7"]
    assert [r.reason for r in ingest(plant, late).rejected] == [RR.REJECTION_REASON_DUPLICATE]


def test_counter_reading_older_than_last_is_refused(plant: Plant):
    m = "roasting.electricity-total"
    ingest(plant, raw(m, "100", at=ts(-60)))
    res = ingest(plant, raw(m, "90", at=ts(-120)))
    assert [r.reason for r in res.rejected] == [RR.REJECTION_REASON_TOO_LATE]


def test_kind_may_be_left_unspecified_or_match(plant: Plant):
    r = raw("roasting.electricity", "1", kind=telemetry_pb2.READING_KIND_INTERVAL)
    assert len(ingest(plant, r).accepted) == 1


def test_retired_key_still_verifies(plant: Plant):
    from epd_connector import signing

    old = signing.generate_private_key()
    plant.registry.register(
        PLANT,
        {"current": plant.key.public_key(), "retired-2024": old.public_key()},
        [meter_from_mapping(m) for m in METERS],
    )
    res = process_batch(
        plant.bytes(raw("roasting.coal", "1", "t"), key=old, key_id="retired-2024"),
        plant.registry,
        plant.state,
        NOW,
        plant.config,
    )
    assert len(res.accepted) == 1


@pytest.mark.parametrize(
    "mapping",
    [
        {"meter_id": "x"},
        {**METERS[0], "activity_kind": "plasma"},
        {**METERS[0], "kind": "sometimes"},
        {**METERS[0], "max_rate_per_hour": "lots"},
        {**METERS[0], "max_rate_per_hour": "5", "unit": "kg"},
    ],
)
def test_bad_meter_mapping_is_a_registry_error(mapping):
    with pytest.raises(RegistryError):
        meter_from_mapping(mapping)


def test_duplicate_meter_in_registry_refused():
    with pytest.raises(RegistryError, match="duplicate"):
        InMemoryPlantRegistry().register("p", {}, [meter_from_mapping(METERS[0])] * 2)
