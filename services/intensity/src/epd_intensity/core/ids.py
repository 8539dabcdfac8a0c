"""Event-time window bounds and deterministic window ids (replays give the same ids)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from epd.v1 import intensity_pb2

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
ROLLING = timedelta(days=30)
# Fixed namespace: uuid5(NAMESPACE_URL, "urn:epd:intensity-window").
WINDOW_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:epd:intensity-window")
_NAMESPACE = WINDOW_NAMESPACE.bytes
SIZE_NAMES = {
    intensity_pb2.WINDOW_SIZE_HOURLY: "PT1H",
    intensity_pb2.WINDOW_SIZE_DAILY: "P1D",
    intensity_pb2.WINDOW_SIZE_ROLLING_30D: "P30D-rolling",
}
SIZE_SPANS = {
    intensity_pb2.WINDOW_SIZE_HOURLY: HOUR,
    intensity_pb2.WINDOW_SIZE_DAILY: DAY,
    intensity_pb2.WINDOW_SIZE_ROLLING_30D: ROLLING,
}


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:  # event times are built in UTC: the common case
        return moment
    if moment.tzinfo is None:
        raise ValueError("naive datetime: event times must be timezone-aware")
    return moment.astimezone(UTC)


def hour_start(moment: datetime) -> datetime:
    return utc(moment).replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    """Daily windows are UTC days (document: 08:00 Beijing time boundaries)."""
    return utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def window_id(process_id: str, start: datetime, size: intensity_pb2.WindowSize, revision: int) -> str:
    """UUIDv5 of "process|start ISO UTC|size|revision"."""
    if size not in SIZE_NAMES:
        raise ValueError(f"unknown window size {size}")
    if revision < 0:
        raise ValueError("revision must be non-negative")
    name = f"{process_id}|{_stamp(utc(start))}|{SIZE_NAMES[size]}|{revision}"
    # str(uuid.uuid5(WINDOW_NAMESPACE, name)) without its UUID object (a window is emitted every few readings):
    # SHA-1 of namespace + name, first 16 bytes, version 5 and the RFC 4122 variant set in place.
    raw = bytearray(hashlib.sha1(_NAMESPACE + name.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _stamp(start: datetime) -> str:
    """start.strftime("%Y-%m-%dT%H:%M:%SZ") of a UTC datetime, from isoformat (C, several times faster)."""
    if start.year < 1000:  # isoformat pads the year to 4 digits, strftime's %Y may not
        return start.strftime("%Y-%m-%dT%H:%M:%SZ")
    return start.isoformat()[:19] + "Z"
