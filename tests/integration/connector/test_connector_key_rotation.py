"""Project issue 14: revoke a key while the pipeline runs; the next batch signed with it is rejected with the
revocation reason, and nothing signed with the new key is lost.

The footprint admin API, ingest and the connector run in-process on real HTTP, PostgreSQL and Kafka. The
operator runs `epd connector rotate-key --overlap-seconds 0` while readings flow: the running connector
signs with the new key from its next batch. Then `revoke-key` the old key with a reason. Ingest refreshes
its registry only when the database announces a change (its periodic refresh is an hour away), so a batch
signed with the old key after the announced refresh is refused with KEY_REVOKED; every reading the
connector sent, before and after both commands, is accepted exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from inputs_support import push_credential
from prometheus_client import REGISTRY
from telemetry_support import (
    create_topics,
    electricity_reading,
    plant_yaml,
    push,
    read_to_end,
    read_topic,
    register_at,
    running_connector,
    running_ingest,
    signed,
    wait_http,
)
from typer.testing import CliRunner

from epd.v1 import telemetry_pb2
from epd_common import topics
from epd_common.kafka import KafkaConnection, make_producer
from epd_connector.cli import app as connector_cli
from epd_connector.keys import key_id_for
from epd_connector.signing import load_private_key
from tests.integration.admin_api import TOKEN, free_port, running_admin_api

RR = telemetry_pb2.RejectionReason
REASON = "key file found on a shared drive"


def announced_refreshes() -> float:
    return REGISTRY.get_sample_value("epd_ingest_registry_refreshes_total", {"trigger": "announced"}) or 0.0


async def epd_connector(*args: str) -> str:
    """One `epd connector ...` command, run as the operator runs it (off the loop that serves the API)."""
    result = await asyncio.to_thread(CliRunner().invoke, connector_cli, list(args))
    assert result.exit_code == 0, (args, result.output)
    return result.output


async def accepted(kafka: KafkaConnection, prefix: str, group: str, want: set[tuple[str, int]]) -> None:
    """Until every (meter, observed second) in `want` is on the readings topic (a 60 s deadline)."""
    got = await read_topic(
        kafka,
        topics.TELEMETRY_READINGS,
        prefix,
        group,
        lambda rs: want <= {(r.meter_id, r.observed_at.seconds) for r in rs},
    )
    missing = want - {(r.meter_id, r.observed_at.seconds) for r in got}
    assert not missing, f"not accepted within 60 s: {sorted(missing)}"


async def test_revoking_a_key_while_the_pipeline_runs_loses_nothing_signed_with_the_new_key(
    kafka, fresh_db, topic_prefix, unique, tmp_path, monkeypatch
):
    pid = f"rot{unique[:6]}"
    path = plant_yaml(tmp_path, pid, unique, pin_key_id=False)
    credentials, token = push_credential(tmp_path, pid)
    await create_topics(kafka, topic_prefix)
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    sent: dict[int, str] = {}  # observed second -> the phase it was pushed in
    port = free_port()

    async def send(phase: str, minutes: range) -> set[tuple[str, int]]:
        for m in minutes:
            at = base + timedelta(minutes=m)
            await push(port, at, {"electricity": str(m + 1), "h2so4": "0.5"}, token)
            sent[int(at.timestamp())] = phase
        return {
            (f"{pid}.{meter}", int((base + timedelta(minutes=m)).timestamp()))
            for m in minutes
            for meter in ("electricity", "h2so4")
        }

    async with running_admin_api(fresh_db) as url:
        key_file = await register_at(url, path, tmp_path)
        old_key = load_private_key(key_file.read_bytes())
        old_id = key_id_for(old_key.public_key())
        monkeypatch.setenv("EPD_FOOTPRINT_ADMIN_URL", url)
        monkeypatch.setenv("EPD_FOOTPRINT_ADMIN_TOKEN", TOKEN)
        async with (
            running_ingest(kafka, fresh_db, topic_prefix, f"ingest-{unique}", refresh_seconds=3600),
            running_connector(
                **kafka.settings_fields(),
                topic_prefix=topic_prefix,
                plant_config=path,
                key_file=key_file,
                sources="http",
                http_port=port,
                http_credentials_file=credentials,
            ),
        ):
            await wait_http(port)
            want = await send("old key", range(3))
            await accepted(kafka, topic_prefix, f"a1-{unique}", want)

            out = await epd_connector("rotate-key", str(path), "--key-file", str(key_file), "--overlap-seconds", "0")
            new_id = key_id_for(load_private_key(key_file.read_bytes()).public_key())
            assert new_id != old_id and f"{old_id} retires at" in out, out
            want |= await send("new key", range(3, 6))
            await accepted(kafka, topic_prefix, f"a2-{unique}", want)
            between = datetime.now(UTC)  # after the old key retired, before it is revoked

            before = announced_refreshes()
            out = await epd_connector("revoke-key", pid, old_id, "--reason", REASON)
            assert f"{old_id} of {pid} revoked from" in out and REASON in out, out
            async with asyncio.timeout(60):
                while announced_refreshes() <= before:  # noqa: ASYNC110 - a counter the ingest loop bumps
                    await asyncio.sleep(0.05)

            # Signed with the old key after the refresh: one created now, one dated between the rotation and
            # the revocation (the revocation must not reopen that time). Readings from long before either.
            stolen = {
                f"stolen-{unique}": signed(pid, old_key, old_id, [_reading(pid, base, 30)], f"stolen-{unique}"),
                f"backdated-{unique}": signed(
                    pid, old_key, old_id, [_reading(pid, base, 31)], f"backdated-{unique}", created_at=between
                ),
            }
            producer = make_producer(kafka)
            await producer.start()
            try:
                for payload in stolen.values():
                    await producer.send_and_wait(topics.TELEMETRY_RAW.topic(topic_prefix), payload, key=pid.encode())
            finally:
                await producer.stop()
            want |= await send("new key", range(6, 9))  # the pipeline goes on with the new key
            rejected = await read_topic(
                kafka,
                topics.TELEMETRY_REJECTED,
                topic_prefix,
                f"r-{unique}",
                lambda rs: set(stolen) <= {r.batch_id for r in rs},
            )
            await accepted(kafka, topic_prefix, f"a3-{unique}", want)

    refused = {r.batch_id: r for r in rejected}
    assert set(refused) == set(stolen), refused
    revoked, retired = refused[f"stolen-{unique}"], refused[f"backdated-{unique}"]
    assert revoked.reason == RR.REJECTION_REASON_KEY_REVOKED, RR.Name(revoked.reason)
    assert REASON in revoked.detail and revoked.original_payload == stolen[f"stolen-{unique}"]
    assert retired.reason == RR.REJECTION_REASON_KEY_RETIRED, (RR.Name(retired.reason), retired.detail)

    # Exactly once each, nothing else refused, and every connector batch signed with the key of its phase.
    readings = await read_to_end(kafka, topics.TELEMETRY_READINGS, topic_prefix)
    assert sorted((r.meter_id, r.observed_at.seconds) for r in readings) == sorted(want)
    assert sorted(r.batch_id for r in await read_to_end(kafka, topics.TELEMETRY_REJECTED, topic_prefix)) == (
        sorted(stolen)
    )
    raw = await read_to_end(kafka, topics.TELEMETRY_RAW, topic_prefix)
    for envelope in raw:
        batch = telemetry_pb2.TelemetryBatch.FromString(envelope.batch)
        if batch.batch_id in stolen:
            continue
        phases = {sent[r.observed_at.seconds] for r in batch.readings}
        assert phases in ({"old key"}, {"new key"}), phases
        assert envelope.key_id == (old_id if phases == {"old key"} else new_id)
    assert {e.key_id for e in raw} == {old_id, new_id}


def _reading(plant_id: str, base: datetime, minute: int) -> telemetry_pb2.RawReading:
    return electricity_reading(plant_id, base + timedelta(minutes=minute))
