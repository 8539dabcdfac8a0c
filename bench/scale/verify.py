"""After the run: nothing lost, nothing counted twice.

- Readings: every reading a checked plant sent is on the readings topic once (by reading id) or on the
  rejected topic (ingest's reason codes), none twice.
- Windows: the oracle (epd_intensity.oracle, no faust) run over the readings topic as written gives
  exactly the windows the workers sent, latest revision per process, size and start, byte for byte;
  no window id was sent twice with different bytes (maths.compare_windows)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import TopicPartition

from epd.v1 import intensity_pb2, telemetry_pb2
from epd_common.kafka import KafkaConnection, make_consumer
from epd_common.topics import TELEMETRY_READINGS, TELEMETRY_REJECTED
from epd_intensity.factors import load_library
from epd_intensity.oracle import compute_windows
from epd_intensity.processes import parse_processes

from .maths import OracleComparison, WindowKey, compare_windows
from .observe import partitions_of


def readings_of(value: bytes) -> list[telemetry_pb2.Reading]:
    """The readings in one record of the readings topic: one Reading, or a batch that carries several."""
    msg = TELEMETRY_READINGS.decode(value)
    if isinstance(msg, telemetry_pb2.Reading):
        return [msg]
    return list(msg.readings)  # type: ignore[attr-defined]


async def read_topic(connection: KafkaConnection, topic: str, keys: set[bytes] | None) -> list[bytes]:
    """Every record value of `topic` up to its current end, partition by partition in offset order,
    only those whose key is in `keys` (None: all)."""
    consumer = make_consumer(connection, None, auto_offset_reset="earliest", request_timeout_ms=30000)
    await consumer.start()
    out: list[bytes] = []
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(connection, topic)]
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            if ends[tp] == 0:
                continue
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            while await consumer.position(tp) < ends[tp]:
                for r in (await consumer.getmany(tp, timeout_ms=2000, max_records=10000)).get(tp, []):
                    if r.offset < ends[tp] and (keys is None or r.key in keys):
                        out.append(r.value)
    finally:
        await consumer.stop()
    return out


@dataclass
class ReadingCheck:
    sent: int
    accepted: int  # distinct reading ids on the readings topic
    rejected: int  # distinct rejections (rejection ids) on the rejected topic
    duplicated: int  # reading ids written more than once
    rejections_repeated: int = 0  # dead letters written again (same rejection id): at least once, by design

    @property
    def lost(self) -> int:
        return self.sent - self.accepted - self.rejected


async def check_readings(
    connection: KafkaConnection, prefix: str, plants: set[str], sent: int
) -> tuple[ReadingCheck, list[telemetry_pb2.Reading]]:
    keys = {p.encode() for p in plants}
    readings = [r for v in await read_topic(connection, TELEMETRY_READINGS.topic(prefix), keys) for r in readings_of(v)]
    rejections = await read_topic(connection, TELEMETRY_REJECTED.topic(prefix), keys)
    rejection_ids = {telemetry_pb2.RejectedReading.FromString(v).rejection_id for v in rejections}
    ids = Counter(r.reading_id for r in readings)
    duplicated = sum(n - 1 for n in ids.values() if n > 1)
    repeated = len(rejections) - len(rejection_ids)
    return ReadingCheck(sent, len(ids), len(rejection_ids), duplicated, repeated), readings


def _key(w: intensity_pb2.IntensityWindow) -> WindowKey:
    return (w.process_id, int(w.size), w.window_start.seconds + w.window_start.nanos / 1e9)


def compare_with_oracle(
    readings: Iterable[telemetry_pb2.Reading], processes_yaml: str, lateness_s: int, sent_windows: list[bytes]
) -> OracleComparison:
    processes = parse_processes(processes_yaml, "scale processes")
    result = compute_windows(readings, processes, load_library(), lateness=dt.timedelta(seconds=lateness_s))
    oracle = {_key(w): (w.window_id, w.SerializeToString(deterministic=True)) for w in result.final}

    def sent() -> Iterable[tuple[WindowKey, int, str, bytes]]:
        for value in sent_windows:
            w = intensity_pb2.IntensityWindow()
            w.ParseFromString(value)
            yield _key(w), w.revision, w.window_id, w.SerializeToString(deterministic=True)

    comparison = compare_windows(sent(), oracle)
    if comparison.exact:
        return comparison
    return dataclasses.replace(comparison, detail=_differences(comparison, result.history, sent_windows))


def _brief(w: intensity_pb2.IntensityWindow) -> str:
    return (
        f"rev {w.revision}: {w.evidence.reading_count} readings, {w.total_co2e_kg or '-'} kg,"
        f" computed at {w.computed_at.ToDatetime():%H:%M:%S}"
    )


def _differences(
    comparison: OracleComparison,
    history: Iterable[intensity_pb2.IntensityWindow],
    sent_windows: list[bytes],
    most: int = 5,
) -> tuple[str, ...]:
    """Each differing window's emissions, the oracle's and the run's in the order sent (a post-mortem aid)."""
    wanted = set(comparison.different[:most])
    keys = {_key(w) for w in history if w.window_id in wanted}
    if comparison.conflicting:
        conflicting = set(comparison.conflicting[:most])
        for value in sent_windows:
            w = intensity_pb2.IntensityWindow.FromString(value)
            if w.window_id in conflicting:
                keys.add(_key(w))
    oracle: dict[WindowKey, list[str]] = {}
    for w in history:
        if _key(w) in keys:
            oracle.setdefault(_key(w), []).append(_brief(w))
    run: dict[WindowKey, list[str]] = {}
    for value in sent_windows:
        w = intensity_pb2.IntensityWindow.FromString(value)
        if _key(w) in keys:
            run.setdefault(_key(w), []).append(_brief(w))
    return tuple(
        f"{k[0]} size {k[1]} from {dt.datetime.fromtimestamp(k[2], dt.UTC):%Y-%m-%d %H:%M}: oracle ["
        + "; ".join(oracle.get(k, []))
        + "], run ["
        + "; ".join(run.get(k, []))
        + "]"
        for k in sorted(keys)
    )
