"""What the scale scenario measures while it runs, from outside the services:
- consumer lag per stage: every consumer group's committed offsets against the high watermarks, once a
  second (the admin client; what `epd_common.lag` exports from inside, seen from the broker);
- the windows and footprint versions as they are written (their record timestamps), to date them
  against the reading that closed them (load.SendLog);
- peak resident memory per process (psutil), and its value before the load started."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field

import psutil
from aiokafka import TopicPartition

from epd.v1 import footprint_pb2, intensity_pb2
from epd_common.kafka import KafkaConnection, make_admin, make_consumer

HOURLY = intensity_pb2.WINDOW_SIZE_HOURLY


@dataclass
class LagSeries:
    # (group, topic) -> [(time, total lag)], and [(time, {partition: committed})]
    lag: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    committed: dict[tuple[str, str], list[tuple[float, dict[int, int]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    highwater: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))


async def sample_lag(connection: KafkaConnection, prefix: str, series: LagSeries, stop: asyncio.Event) -> None:
    admin = make_admin(connection, request_timeout_ms=10000)
    probe = make_consumer(connection, None, request_timeout_ms=10000)
    await admin.start()
    await probe.start()
    try:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a broker is killed on purpose: skip that second
                await _sample(admin, probe, prefix, series)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        await probe.stop()
        await admin.close()


async def _sample(admin, probe, prefix: str, series: LagSeries) -> None:
    now = time.time()
    groups = [g[0] for g in await admin.list_consumer_groups()]
    committed: dict[str, dict[TopicPartition, int]] = {}
    for group in groups:
        offsets = await admin.list_consumer_group_offsets(group)
        committed[group] = {tp: m.offset for tp, m in offsets.items() if tp.topic.startswith(prefix)}
    partitions = {tp for c in committed.values() for tp in c}
    ends = await probe.end_offsets(list(partitions)) if partitions else {}
    per_topic: dict[str, int] = defaultdict(int)
    for tp, end in ends.items():
        per_topic[tp.topic] += end
    for topic, total in per_topic.items():
        series.highwater[topic].append((now, total))
    for group, offsets in committed.items():
        by_topic: dict[str, dict[int, int]] = defaultdict(dict)
        for tp, off in offsets.items():
            by_topic[tp.topic][tp.partition] = max(0, off)
        for topic, parts in by_topic.items():
            behind = sum(max(0, end - parts.get(tp.partition, 0)) for tp, end in ends.items() if tp.topic == topic)
            series.lag[(group, topic)].append((now, behind))
            series.committed[(group, topic)].append((now, parts))


async def partitions_of(connection: KafkaConnection, topic: str) -> list[int]:
    admin = make_admin(connection)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in described["partitions"])


@dataclass
class Outputs:
    window_end: dict[str, tuple[str, float]] = field(default_factory=dict)  # window id -> (plant, end)
    hourly_first: list[tuple[str, float, float]] = field(default_factory=list)  # (plant, end, written at)
    kept: list[tuple[float, bytes]] = field(default_factory=list)  # windows of the oracle's plants
    versions: list[tuple[float, footprint_pb2.FootprintVersion]] = field(default_factory=list)
    windows_seen: int = 0


async def follow_outputs(
    connection: KafkaConnection,
    windows_topic: str,
    records_topic: str,
    keep_plants: set[str] | None,
    out: Outputs,
    stop: asyncio.Event,
) -> None:
    """Read the windows and records topics from the start, without a group, until `stop`; then drain."""
    consumer = make_consumer(connection, None, auto_offset_reset="earliest", request_timeout_ms=20000)
    await consumer.start()
    try:
        topics = {windows_topic, records_topic}
        tps = [TopicPartition(t, p) for t in sorted(topics) for p in await partitions_of(connection, t)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        idle_after_stop = 0
        while idle_after_stop < 3:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if not batch and stop.is_set():
                idle_after_stop += 1
            for tp, records in batch.items():
                for r in records:
                    if tp.topic == windows_topic:
                        _window(r, keep_plants, out)
                    else:
                        v = footprint_pb2.FootprintVersion()
                        v.ParseFromString(r.value)
                        out.versions.append((r.timestamp / 1000, v))
    finally:
        await consumer.stop()


def _window(record, keep_plants: set[str] | None, out: Outputs) -> None:
    w = intensity_pb2.IntensityWindow()
    w.ParseFromString(record.value)
    out.windows_seen += 1
    end = w.window_end.seconds + w.window_end.nanos / 1e9
    out.window_end[w.window_id] = (w.plant_id, end)
    if w.size == HOURLY and w.revision == 0:
        out.hourly_first.append((w.plant_id, end, record.timestamp / 1000))
    if keep_plants is None or w.plant_id in keep_plants:
        out.kept.append((record.timestamp / 1000, record.value))


@dataclass
class Memory:
    first_mib: dict[str, float] = field(default_factory=dict)  # when the load started (`mark`)
    last_mib: dict[str, float] = field(default_factory=dict)
    peak_mib: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[tuple[str, int], float] = field(default_factory=dict)  # (name, pid) -> CPU seconds so far

    def mark(self) -> None:
        """The resident sizes now are the 'before load' ones (processes started later: their first)."""
        self.first_mib = dict(self.last_mib)

    def cpu_by_name(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (name, _), seconds in self.cpu_s.items():
            out[name] = out.get(name, 0.0) + seconds
        return out


async def sample_memory(pids, memory: Memory, stop: asyncio.Event, alone: frozenset[str] = frozenset()) -> None:
    """Resident memory and CPU of each named process and its children (a service's process group), each
    second; the processes named in `alone` without their children (the driver started the services)."""
    while not stop.is_set():
        for name, pid in pids().items():
            try:
                proc = psutil.Process(pid)
                family = [proc] if name in alone else [proc, *proc.children(recursive=True)]
                rss = sum(c.memory_info().rss for c in family if c.is_running())
                cpu = sum(sum(c.cpu_times()[:2]) for c in family if c.is_running())
                memory.cpu_s[(name, pid)] = max(memory.cpu_s.get((name, pid), 0.0), cpu)
            except psutil.Error:
                continue
            mib = rss / 2**20
            memory.first_mib.setdefault(name, mib)
            memory.last_mib[name] = mib
            memory.peak_mib[name] = max(memory.peak_mib.get(name, 0.0), mib)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
