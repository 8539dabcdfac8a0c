"""Retired and revoked plant keys: what they signed before they stopped counting verifies; a batch created, or
holding a reading observed, at or after that time is refused with its own reason, and another key in force
is unaffected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ingest_support import KEY_ID, NOW, PLANT, raw, ts

from epd.v1 import telemetry_pb2
from epd_connector import signing
from epd_ingest.pipeline import process_batch
from epd_ingest.registry import PlantKey

RR = telemetry_pb2.RejectionReason
STOP = NOW - timedelta(minutes=10)  # when the old key stopped counting
NEW_KEY_ID = "baotou-smelter-2026"


def _with_keys(plant, old: PlantKey):
    new = signing.generate_private_key()
    meters = list(plant.registry.plant(PLANT).meters.values())
    plant.registry.register(PLANT, {KEY_ID: old, NEW_KEY_ID: new.public_key()}, meters)
    return new


def _stopped(plant, how: str) -> PlantKey:
    public = plant.key.public_key()
    if how == "revoked":
        return PlantKey(public, revoked_at=STOP, revocation_reason="key file copied to a laptop")
    return PlantKey(public, retired_at=STOP)


REASONS = {"revoked": RR.REJECTION_REASON_KEY_REVOKED, "retired": RR.REJECTION_REASON_KEY_RETIRED}


@pytest.mark.parametrize("how", ["revoked", "retired"])
def test_a_batch_signed_before_the_key_stopped_counting_is_accepted(plant, how):
    _with_keys(plant, _stopped(plant, how))
    before = STOP - timedelta(seconds=1)
    record = plant.bytes(raw("roasting.electricity", "5", at=before - timedelta(minutes=1)), created_at=before)
    result = process_batch(record, plant.registry, plant.state, NOW, plant.config)
    assert [r.meter_id for r in result.accepted] == ["roasting.electricity"]
    assert result.rejected == []


@pytest.mark.parametrize("how", ["revoked", "retired"])
def test_a_batch_created_at_or_after_that_time_is_refused_with_its_reason(plant, how):
    _with_keys(plant, _stopped(plant, how))
    for created in (STOP, NOW):
        record = plant.bytes(raw("roasting.electricity", "5", at=STOP - timedelta(minutes=5)), created_at=created)
        result = process_batch(record, plant.registry, plant.state, NOW, plant.config)
        assert result.accepted == []
        [rejected] = result.rejected
        assert rejected.reason == REASONS[how]
        assert rejected.plant_id == PLANT
        assert rejected.original_payload == record  # the whole signed record, for an audit
        signed_batch = telemetry_pb2.SignedTelemetryBatch.FromString(record)
        assert rejected.batch_id == telemetry_pb2.TelemetryBatch.FromString(signed_batch.batch).batch_id != ""
        assert "created" in rejected.detail


@pytest.mark.parametrize("how", ["revoked", "retired"])
def test_a_backdated_batch_with_a_reading_after_that_time_is_refused(plant, how):
    """A leaked key could write any creation time into the batch it signs; the readings' own times
    cannot be later than the key's end either."""
    _with_keys(plant, _stopped(plant, how))
    readings = [
        raw("roasting.electricity", "5", at=STOP - timedelta(minutes=2)),
        raw("roasting.coal", "1", "t", ts(-5)),
    ]
    record = plant.bytes(*readings, created_at=STOP - timedelta(minutes=1))
    result = process_batch(record, plant.registry, plant.state, NOW, plant.config)
    assert result.accepted == []
    [rejected] = result.rejected
    assert rejected.reason == REASONS[how]
    assert "holds a reading observed" in rejected.detail


def test_revocation_names_its_reason_and_the_new_key_goes_on(plant):
    new = _with_keys(plant, _stopped(plant, "revoked"))
    old_record = plant.bytes(raw("roasting.electricity", "5", at=ts(-30)))
    new_record = plant.bytes(raw("roasting.electricity", "6", at=ts(-20)), key=new, key_id=NEW_KEY_ID)
    old = process_batch(old_record, plant.registry, plant.state, NOW, plant.config)
    assert "key file copied to a laptop" in old.rejected[0].detail
    fresh = process_batch(new_record, plant.registry, plant.state, NOW, plant.config)
    assert [r.meter_id for r in fresh.accepted] == ["roasting.electricity"] and fresh.rejected == []


def test_a_revocation_wins_over_a_later_retirement(plant):
    revoked_then_retired = PlantKey(
        plant.key.public_key(), retired_at=NOW + timedelta(hours=1), revoked_at=STOP, revocation_reason="leaked"
    )
    _with_keys(plant, revoked_then_retired)
    result = process_batch(plant.bytes(raw("roasting.electricity", "5")), plant.registry, plant.state, NOW)
    assert [r.reason for r in result.rejected] == [RR.REJECTION_REASON_KEY_REVOKED]


def test_a_key_retired_then_revoked_later_stops_at_its_retirement(plant):
    """A rotation retires the old key; a revocation afterwards must not reopen the time in between."""
    retired_then_revoked = PlantKey(
        plant.key.public_key(), retired_at=STOP, revoked_at=NOW - timedelta(minutes=1), revocation_reason="leaked"
    )
    _with_keys(plant, retired_then_revoked)
    between = STOP + timedelta(minutes=2)
    for created, reason in ((between, RR.REJECTION_REASON_KEY_RETIRED), (NOW, RR.REJECTION_REASON_KEY_REVOKED)):
        record = plant.bytes(raw("roasting.electricity", "5", at=STOP - timedelta(minutes=5)), created_at=created)
        result = process_batch(record, plant.registry, plant.state, NOW, plant.config)
        assert result.accepted == [] and [r.reason for r in result.rejected] == [reason]
    at_retirement = plant.bytes(raw("roasting.electricity", "5", at=STOP - timedelta(minutes=3)), created_at=STOP)
    assert process_batch(at_retirement, plant.registry, plant.state, NOW, plant.config).rejected[0].reason == (
        RR.REJECTION_REASON_KEY_RETIRED
    )


def test_a_key_retired_in_the_future_is_still_in_force(plant):
    _with_keys(plant, PlantKey(plant.key.public_key(), retired_at=NOW + timedelta(minutes=15)))
    result = process_batch(plant.bytes(raw("roasting.electricity", "5")), plant.registry, plant.state, NOW)
    assert len(result.accepted) == 1 and result.rejected == []


def test_a_bad_signature_is_refused_as_such_before_any_key_time_is_trusted(plant):
    """The batch's times are only read from verified bytes: a forged batch is BAD_SIGNATURE, not KEY_REVOKED."""
    _with_keys(plant, _stopped(plant, "revoked"))
    forged = plant.bytes(raw("roasting.electricity", "5"), key=signing.generate_private_key())
    result = process_batch(forged, plant.registry, plant.state, NOW)
    assert [r.reason for r in result.rejected] == [RR.REJECTION_REASON_BAD_SIGNATURE]
