"""Table-driven bad input through the real broker: every class of bad reading ends on the rejected topic
with its reason code, and the ingest service keeps running (a good batch afterwards is accepted)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "connector"))  # shared telemetry_support
from telemetry_support import create_topics, plant_yaml, read_topic, register, running_ingest, signed

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.kafka import make_producer
from epd_connector.config import load_plant_config
from epd_connector.signing import generate_private_key, load_private_key

RR = telemetry_pb2.RejectionReason
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def reading(
    meter: str, value: str, minute: int, unit: str, kind=telemetry_pb2.READING_KIND_INTERVAL, at: datetime | None = None
) -> telemetry_pb2.RawReading:
    r = telemetry_pb2.RawReading(
        meter_id=meter, value=value, unit=unit, kind=kind, quality=telemetry_pb2.READING_QUALITY_GOOD
    )
    r.observed_at.FromDatetime(at or BASE + timedelta(minutes=minute))
    return r


async def test_each_bad_reading_class_is_rejected_with_its_reason(kafka, fresh_db, topic_prefix, unique, tmp_path):
    pid = f"bad{unique[:6]}"
    path = plant_yaml(tmp_path, pid, unique)
    plant = load_plant_config(path)
    key = load_private_key((await register(fresh_db, path, tmp_path)).read_bytes())
    el, acid, steam = f"{pid}.electricity", f"{pid}.h2so4", f"{pid}.steam"
    counter = telemetry_pb2.READING_KIND_COUNTER
    dup_batch = signed(pid, key, plant.key_id, [reading(el, "1", 50, "MWh")])
    cases = [  # (name, record bytes, expected reason)
        (
            "bad signature",
            signed(pid, generate_private_key(), plant.key_id, [reading(el, "1", 1, "MWh")]),
            RR.REJECTION_REASON_BAD_SIGNATURE,
        ),
        (
            "unknown plant",
            signed("no-such-plant", key, plant.key_id, [reading(el, "1", 2, "MWh")]),
            RR.REJECTION_REASON_UNKNOWN_PLANT,
        ),
        (
            "unknown meter",
            signed(pid, key, plant.key_id, [reading(f"{pid}.nope", "1", 3, "MWh")]),
            RR.REJECTION_REASON_UNKNOWN_METER,
        ),
        (
            "unknown unit",
            signed(pid, key, plant.key_id, [reading(el, "1", 4, "blorbs")]),
            RR.REJECTION_REASON_UNKNOWN_UNIT,
        ),
        (
            "incompatible unit",
            signed(pid, key, plant.key_id, [reading(el, "1", 5, "kg")]),
            RR.REJECTION_REASON_INCOMPATIBLE_UNIT,
        ),
        ("NaN", signed(pid, key, plant.key_id, [reading(el, "NaN", 6, "MWh")]), RR.REJECTION_REASON_NOT_FINITE),
        (
            "infinity",
            signed(pid, key, plant.key_id, [reading(el, "Infinity", 7, "MWh")]),
            RR.REJECTION_REASON_NOT_FINITE,
        ),
        (
            "negative interval",
            signed(pid, key, plant.key_id, [reading(acid, "-2", 8, "t")]),
            RR.REJECTION_REASON_NEGATIVE_VALUE,
        ),
        (
            "counter backwards",
            signed(
                pid,
                key,
                plant.key_id,
                [reading(steam, "5000", 9, "MJ", counter), reading(steam, "3000", 10, "MJ", counter)],
            ),
            RR.REJECTION_REASON_COUNTER_BACKWARDS,
        ),
        (
            "future timestamp",
            signed(pid, key, plant.key_id, [reading(el, "1", 0, "MWh", at=datetime.now(UTC) + timedelta(days=1))]),
            RR.REJECTION_REASON_FUTURE_TIMESTAMP,
        ),
        ("duplicate batch", dup_batch, RR.REJECTION_REASON_DUPLICATE),
        (
            "duplicate reading",
            signed(pid, key, plant.key_id, [reading(el, "1", 50, "MWh")]),
            RR.REJECTION_REASON_DUPLICATE,
        ),
        (
            "oversized batch",
            signed(
                pid,
                key,
                plant.key_id,
                [reading(acid, "1", 0, "t", at=BASE - timedelta(seconds=i)) for i in range(10_001)],
            ),
            RR.REJECTION_REASON_OVERSIZED_BATCH,
        ),
        ("garbage bytes", b"\xff\x00garbage\x07not a protobuf" * 3, RR.REJECTION_REASON_MALFORMED),
    ]
    await create_topics(kafka, topic_prefix)
    producer = make_producer(kafka)
    await producer.start()
    raw_topic = topics.TELEMETRY_RAW.topic(topic_prefix)
    good = signed(pid, key, plant.key_id, [reading(acid, "0.5", 55, "t")])
    try:
        async with running_ingest(kafka, fresh_db, topic_prefix, f"ingest-{unique}"):
            await (await producer.send(raw_topic, dup_batch, key=pid.encode()))  # first copy is accepted
            for _, payload, _ in cases:
                await (await producer.send(raw_topic, payload, key=pid.encode()))
            await (await producer.send(raw_topic, good, key=pid.encode()))
            accepted = await read_topic(
                kafka,
                topics.TELEMETRY_READINGS,
                topic_prefix,
                f"a-{unique}",
                lambda rs: any(r.meter_id == acid for r in rs),
            )
            rejected = await read_topic(
                kafka,
                topics.TELEMETRY_REJECTED,
                topic_prefix,
                f"r-{unique}",
                lambda rs: len(rs) >= len(cases),
            )
    finally:
        await producer.stop()
    reasons = {r.reason for r in rejected}
    missing = [name for name, _, reason in cases if reason not in reasons]
    assert not missing, f"no rejection for {missing}; got {[RR.Name(r) for r in reasons]}"
    assert all(r.original_payload for r in rejected)
    garbage = [r for r in rejected if r.reason == RR.REJECTION_REASON_MALFORMED]
    assert garbage[0].original_payload == cases[-1][1]
    # The service kept running: the good batch after all the bad ones was accepted and normalised.
    assert [(r.meter_id, r.quantity, r.unit) for r in accepted if r.meter_id == acid] == [(acid, "500", "kg")]
    assert {(r.meter_id, r.unit) for r in accepted} == {(el, "kWh"), (acid, "kg"), (steam, "GJ")}  # steam: baseline
