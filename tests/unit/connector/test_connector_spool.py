"""Spool: durability across close and crash, ack, size bound, metrics accessors."""

import subprocess
import sys
import textwrap
import uuid

import pytest

from epd.v1 import telemetry_pb2
from epd_connector.batching import BATCH_ID_NAMESPACE, batch_id_for
from epd_connector.spool import Spool, SpoolError, SpoolFull


def _signed(seq: int, plant: str = "baotou-smelter", readings: int = 1) -> telemetry_pb2.SignedTelemetryBatch:
    b = telemetry_pb2.TelemetryBatch(batch_id=batch_id_for(plant, seq), plant_id=plant, sequence=seq)
    for i in range(readings):
        b.readings.add(meter_id="roasting.electricity", value=str(i), unit="kWh")
    return telemetry_pb2.SignedTelemetryBatch(
        batch=b.SerializeToString(deterministic=True), signature=b"\x01" * 64, key_id="k1", plant_id=plant
    )


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_close_without_ack_then_reopen_yields_pending_again(tmp_path):
    path = tmp_path / "spool.sqlite3"
    with Spool(path, max_bytes=1 << 20) as s:
        seqs = [s.append(_signed(i)) for i in range(3)]
    with Spool(path, max_bytes=1 << 20) as s:
        pending = s.pending(10)
        assert [p.seq for p in pending] == seqs
        assert [p.signed for p in pending] == [_signed(i) for i in range(3)]
        assert s.ack(seqs[0]) is True
        assert s.ack(seqs[0]) is False
    with Spool(path, max_bytes=1 << 20) as s:
        assert [p.seq for p in s.pending(10)] == seqs[1:]
        assert s.depth() == 2


def test_process_killed_without_close_keeps_batches(tmp_path):
    path = tmp_path / "spool.sqlite3"
    script = textwrap.dedent(
        f"""
        import os
        from epd.v1 import telemetry_pb2
        from epd_connector.spool import Spool
        s = Spool({str(path)!r}, max_bytes=1 << 20)
        for i in range(5):
            b = telemetry_pb2.TelemetryBatch(batch_id=f"b{{i}}", plant_id="p", sequence=i)
            s.append(telemetry_pb2.SignedTelemetryBatch(batch=b.SerializeToString(), plant_id="p"))
        s.ack(1)
        os._exit(9)  # no close, no atexit: as close to SIGKILL as a test can get portably
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert proc.returncode == 9
    with Spool(path, max_bytes=1 << 20) as s:
        assert [p.batch_id for p in s.pending(10)] == ["b1", "b2", "b3", "b4"]
        assert s.last_sequence("p") == 4


def test_pending_is_oldest_first_and_limited(tmp_path):
    with Spool(tmp_path / "s", max_bytes=1 << 20) as s:
        for i in range(5):
            s.append(_signed(i))
        assert [p.signed for p in s.pending(2)] == [_signed(0), _signed(1)]
        assert s.pending(0) == [] and s.pending(-3) == []


def test_append_is_idempotent_per_batch_id(tmp_path):
    with Spool(tmp_path / "s", max_bytes=1 << 20) as s:
        a = s.append(_signed(7))
        assert s.append(_signed(7)) == a
        assert s.depth() == 1


def test_acked_seq_is_never_reused(tmp_path):
    with Spool(tmp_path / "s", max_bytes=1 << 20) as s:
        first = s.append(_signed(0))
        s.ack(first)
        assert s.append(_signed(1)) > first


def test_spool_full_refuses_and_stores_nothing(tmp_path):
    sizes = [len(_signed(i, readings=5).SerializeToString(deterministic=True)) for i in range(2)]
    bound = sum(sizes) + 10
    with Spool(tmp_path / "s", max_bytes=bound) as s:
        s.append(_signed(0, readings=5))
        s.append(_signed(1, readings=5))
        assert s.bytes_used() == sum(sizes)
        assert s.fill_ratio() == pytest.approx(sum(sizes) / bound)
        with pytest.raises(SpoolFull, match="refused"):
            s.append(_signed(2, readings=5))
        assert s.depth() == 2
        s.ack(s.pending(1)[0].seq)
        s.append(_signed(2, readings=5))
        assert s.depth() == 2


def test_metrics_accessors(tmp_path):
    clock = Clock()
    with Spool(tmp_path / "s", max_bytes=1 << 20, clock=clock) as s:
        assert (s.depth(), s.bytes_used(), s.oldest_age_seconds(), s.fill_ratio()) == (0, 0, 0.0, 0.0)
        s.append(_signed(0))
        clock.t += 30
        s.append(_signed(1))
        clock.t += 5
        assert s.oldest_age_seconds() == pytest.approx(35)
        assert s.bytes_used() == sum(len(_signed(i).SerializeToString(deterministic=True)) for i in range(2))
        assert s.last_sequence("baotou-smelter") == 1
        assert s.last_sequence("unknown") is None


def test_batch_without_id_is_refused(tmp_path):
    with Spool(tmp_path / "s", max_bytes=1 << 20) as s:
        with pytest.raises(ValueError, match="batch_id"):
            s.append(telemetry_pb2.SignedTelemetryBatch(batch=b""))
        assert s.depth() == 0


def test_not_a_spool_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "garbage"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SpoolError, match="cannot open spool"):
        Spool(bad, max_bytes=1024)


def test_zero_bound_rejected(tmp_path):
    with pytest.raises(ValueError):
        Spool(tmp_path / "s", max_bytes=0)


def test_a_spool_keeps_its_stream_and_a_new_spool_starts_another(tmp_path):
    path = tmp_path / "spool.sqlite3"
    with Spool(path, max_bytes=1 << 20) as s:
        stream = s.stream_id
    with Spool(path, max_bytes=1 << 20) as s:
        assert s.stream_id == stream  # resent batches keep their ids
    path.unlink()
    with Spool(path, max_bytes=1 << 20) as s:
        assert s.stream_id != stream  # the spool was lost: a new stream
        assert s.last_sequence("baotou-smelter") is None


def test_batch_ids_of_two_streams_never_meet():
    first = {batch_id_for("baotou-smelter", seq, "stream-a") for seq in range(1000)}
    second = {batch_id_for("baotou-smelter", seq, "stream-b") for seq in range(1000)}
    legacy = {batch_id_for("baotou-smelter", seq) for seq in range(1000)}
    assert len(first | second | legacy) == 3000
    # Spools made before streams keep their ids (wire compatibility with batches already ingested).
    assert batch_id_for("baotou-smelter", 0) == str(uuid.uuid5(BATCH_ID_NAMESPACE, "baotou-smelter\x1f0"))
