"""A lost spool never repeats batch ids: the connector sends readings and stops, its spool directory is
deleted (a new volume, a wiped disk), and the restarted connector opens a new spool with a new batch stream.
Its batches count from sequence 0 again, yet ingest (real Kafka and PostgreSQL) accepts every new reading:
none is refused as a DUPLICATE of a batch the lost spool sent."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from inputs_support import push_credential
from telemetry_support import (
    create_topics,
    plant_yaml,
    push,
    read_to_end,
    read_topic,
    register,
    running_connector,
    running_ingest,
    wait_http,
)

from epd.v1 import telemetry_pb2
from epd_common import topics
from tests.integration.admin_api import free_port


async def test_a_connector_that_lost_its_spool_sends_new_batch_ids(kafka, fresh_db, topic_prefix, unique, tmp_path):
    pid = f"ls{unique[:6]}"
    path = plant_yaml(tmp_path, pid, unique, pin_key_id=False)
    credentials, token = push_credential(tmp_path, pid)
    key_file = await register(fresh_db, path, tmp_path)
    await create_topics(kafka, topic_prefix)
    spool_dir = tmp_path / "spool"
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    want: set[tuple[str, int]] = set()
    streams = []

    async def run_connector(minutes: range, group: str) -> None:
        port = free_port()
        async with running_connector(
            **kafka.settings_fields(),
            topic_prefix=topic_prefix,
            plant_config=path,
            key_file=key_file,
            sources="http",
            http_port=port,
            http_credentials_file=credentials,
            spool_dir=spool_dir,
        ) as rt:
            streams.append((rt.spool.stream_id, rt.batcher.next_sequence))
            await wait_http(port)
            for m in minutes:
                at = base + timedelta(minutes=m)
                await push(port, at, {"electricity": str(m + 1), "h2so4": "0.5"}, token)
                want.update({(f"{pid}.electricity", int(at.timestamp())), (f"{pid}.h2so4", int(at.timestamp()))})
            got = await read_topic(
                kafka,
                topics.TELEMETRY_READINGS,
                topic_prefix,
                group,
                lambda rs: want <= {(r.meter_id, r.observed_at.seconds) for r in rs},
            )
            assert want <= {(r.meter_id, r.observed_at.seconds) for r in got}, "not accepted within 60 s"

    async with running_ingest(kafka, fresh_db, topic_prefix, f"ingest-{unique}"):
        await run_connector(range(3), f"a1-{unique}")
        assert any(spool_dir.iterdir())
        shutil.rmtree(spool_dir)  # the spool is lost with the connector stopped
        await run_connector(range(3, 6), f"a2-{unique}")

    (first, first_seq), (second, second_seq) = streams
    assert first != second and first_seq == second_seq == 0  # a new stream, counting from 0 again
    raw = [
        telemetry_pb2.TelemetryBatch.FromString(e.batch)
        for e in await read_to_end(kafka, topics.TELEMETRY_RAW, topic_prefix)
    ]
    by_stream = {s: sorted(b.sequence for b in raw if b.stream_id == s) for s in (first, second)}
    assert by_stream[first][0] == by_stream[second][0] == 0 and len(raw) == sum(map(len, by_stream.values()))
    assert len({b.batch_id for b in raw}) == len(raw)  # the same sequences, different ids
    assert await read_to_end(kafka, topics.TELEMETRY_REJECTED, topic_prefix) == []
    readings = await read_to_end(kafka, topics.TELEMETRY_READINGS, topic_prefix)
    assert sorted((r.meter_id, r.observed_at.seconds) for r in readings) == sorted(want)  # each exactly once
