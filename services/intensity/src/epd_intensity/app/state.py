"""Table state of the processor: keys, and JSON-safe codecs for what each key holds.

All state lives in ONE faust table (one changelog topic) under prefixed string keys, so that per
source partition the persisted changelog is a prefix of the writes in the order they were made;
the processor relies on that to write the plant state last (see processor.py). Keys:

- ``p|<plant>``          PlantState: watermark, applied offsets, open hours, pending days,
                          revision counters of windows that can still change;
- ``b|<process>|<hour>`` an hourly Bucket (Bucket.to_dict), kept until the hour is final
                          (end + allowed lateness <= watermark);
- ``o|<partition>``      the source partition's applied offset (source_progress.py), written
                          after the batch's plant states;
- ``d|<process>|<day>``  a day's hourly totals while the day can still change, then compacted to
                          the day's sum and its hourly Merkle roots (enough for exact 30-day values).
Bucket and day keys hold version pairs (`versioned`): the value after the batch that wrote it, the
value before that batch, and the batch's last source offset; `current` picks the one matching the
plant state's applied offsets (processor.py: a lost plant write must not leave state ahead of it).
A compacted day is never written again, so the plant's next commit rewrites it without its value
before (Processor._trim_compacted): held days cost their sum and roots only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

from epd.v1 import intensity_pb2
from epd_intensity.core import Bucket, WindowTotals, combine
from epd_intensity.core.evidence import leaf

WindowKey = tuple[str, intensity_pb2.WindowSize, datetime]  # (process, size, start)


class Store(Protocol):
    """The key-value store the processor and the source progress keep their state in: the faust
    table's TableStore (table_store.py), a dict in tests. A store may also have
    `select_partition(partition)`, called before the writes of that source partition."""

    def get(self, key: str, default: Any = None, /) -> Any: ...

    def __contains__(self, key: str, /) -> bool: ...

    def __setitem__(self, key: str, value: Any, /) -> None: ...

    def __delitem__(self, key: str, /) -> None: ...


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def plant_key(plant: str) -> str:
    return f"p|{plant}"


@lru_cache(maxsize=4096)  # asked per reading; the open hours of a worker's plants are few
def bucket_key(process_id: str, hour: datetime) -> str:
    return f"b|{process_id}|{_iso(hour)}"


@lru_cache(maxsize=4096)
def day_key(process_id: str, day: datetime) -> str:
    return f"d|{process_id}|{_iso(day)}"


def progress_key(partition: int) -> str:
    """The applied offset of a source partition (source_progress.py)."""
    return f"o|{partition}"


def versioned(partition: int, upto: int, value: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """A key's value written by the batch that ends at source `partition`:`upto`, and its value before."""
    return {"at": [partition, upto], "v": value, "prev": before}


def current(stored: dict[str, Any] | None, applied: dict[int, int]) -> dict[str, Any] | None:
    """The value as of the plant's applied offsets: the batch's value if its plant write is there,
    else the value before the batch (None: the key did not exist)."""
    if stored is None:
        return None
    partition, upto = stored["at"]
    done = applied.get(partition)
    return stored["v"] if done is not None and upto <= done else stored["prev"]


@dataclass
class PlantState:
    watermark: datetime | None = None
    offsets: dict[int, int] = field(default_factory=dict)  # source partition -> last applied offset
    open: set[tuple[str, datetime]] = field(default_factory=set)  # hourly buckets not yet emitted
    buckets: set[tuple[str, datetime]] = field(default_factory=set)  # buckets held (open or revisable)
    days: set[tuple[str, datetime]] = field(default_factory=set)  # day entries held
    pending: set[tuple[str, datetime]] = field(default_factory=set)  # days waiting for their first close
    revisions: dict[WindowKey, int] = field(default_factory=dict)  # next revision of non-final windows
    plant_id: str = ""  # not stored: the key says it

    def to_dict(self) -> dict[str, Any]:
        pairs = lambda s: sorted([p, _iso(t)] for p, t in s)  # noqa: E731
        return {
            "wm": _iso(self.watermark) if self.watermark else None,
            "offsets": {str(k): v for k, v in sorted(self.offsets.items())},
            "open": pairs(self.open),
            "buckets": pairs(self.buckets),
            "days": pairs(self.days),
            "pending": pairs(self.pending),
            "revs": sorted([p, s, _iso(t), r] for (p, s, t), r in self.revisions.items()),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PlantState:
        if not data:
            return cls()
        pairs = lambda rows: {(p, _dt(t)) for p, t in rows}  # noqa: E731
        return cls(
            _dt(data["wm"]) if data["wm"] else None,
            {int(k): v for k, v in data["offsets"].items()},
            pairs(data["open"]),
            pairs(data["buckets"]),
            pairs(data["days"]),
            pairs(data["pending"]),
            {(p, s, _dt(t)): r for p, s, t, r in data["revs"]},
        )


def bucket_to_dict(bucket: Bucket) -> dict[str, Any]:
    return bucket.to_dict()


def bucket_from_dict(data: dict[str, Any]) -> Bucket:
    return Bucket.from_dict(data)


def totals_to_text(t: WindowTotals) -> str:
    """Compact JSON text (one str per stored totals keeps 30 days of state small in memory)."""
    return json.dumps(
        [
            [[k, c, u, str(q)] for (k, c, u), q in sorted(t.activities.items())],
            [[s, g, a, f, str(m), str(e)] for (s, g, a, f), (m, e) in sorted(t.emissions.items())],
            [[p, str(q)] for p, q in sorted(t.outputs.items())],
            t.reading_count,
            t.merkle_root,
            list(t.factor_set_versions),
            list(t.gwp_sets),
        ],
        separators=(",", ":"),
    )


def totals_from_text(text: str) -> WindowTotals:
    acts, lines, outs, count, root, versions, gwps = json.loads(text)
    return WindowTotals(
        activities={(k, c, u): Decimal(q) for k, c, u, q in acts},
        emissions={(s, g, a, f): (Decimal(m), Decimal(e)) for s, g, a, f, m, e in lines},
        outputs={p: Decimal(q) for p, q in outs},
        reading_count=count,
        merkle_root=root,
        factor_set_versions=tuple(versions),
        gwp_sets=tuple(gwps),
    )


@dataclass
class DayState:
    """Hourly totals of one process-day (while revisable), or its compacted sum and hourly roots."""

    hours: dict[datetime, WindowTotals] = field(default_factory=dict)
    total: str | None = None  # compacted: totals_to_text of the day's sum
    roots: str = ""  # compacted: the day's hourly Merkle roots, concatenated (64 hex each)
    # Text of each hour's totals, by the totals object it was made from: a day is written every
    # batch that revises one of its hours, and the other hours' text does not change.
    _texts: dict[datetime, tuple[WindowTotals, str]] = field(default_factory=dict, repr=False, compare=False)
    # Compacted (never changes again): its sum parsed and its roots' Merkle leaves, made once for the
    # 30 rolling windows that read them.
    _sum: WindowTotals | None = field(default=None, repr=False, compare=False)
    _leaves: dict[str, bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def compacted(self) -> bool:
        return self.total is not None

    def day_sum(self) -> WindowTotals | None:
        """The day's summed totals without a Merkle root (its hours' roots are what derived windows use);
        None for a day with no hours."""
        if self.total is not None:
            if self._sum is None:
                self._sum = totals_from_text(self.total)
            return self._sum
        return combine(self.hours.values(), with_root=False) if self.hours else None

    def hour_leaves(self) -> dict[str, bytes]:
        """Merkle leaf (evidence.leaf) of each hourly root, by root."""
        if self._leaves is not None:
            return self._leaves
        leaves = {root: leaf(root) for root in self.hour_roots()}
        if self.compacted:
            self._leaves = leaves
        return leaves

    def compact(self) -> None:
        """Keep only the day's sum and its hourly roots (the day can no longer change); the hours and
        their texts go."""
        ordered = [self.hours[h] for h in sorted(self.hours)]
        self.total = totals_to_text(combine(ordered))
        self.roots = "".join(t.merkle_root for t in ordered)
        self.hours = {}
        self._texts.clear()
        self._sum = self._leaves = None

    def hour_roots(self) -> list[str]:
        if self.compacted:
            return [self.roots[i : i + 64] for i in range(0, len(self.roots), 64)]
        return [t.merkle_root for t in self.hours.values()]

    def to_dict(self) -> dict[str, Any]:
        if self.compacted:
            return {"total": self.total, "roots": self.roots}
        return {"hours": {_iso(h): self._text(h, t) for h, t in sorted(self.hours.items())}}

    def _text(self, hour: datetime, totals: WindowTotals) -> str:
        cached = self._texts.get(hour)
        if cached is None or cached[0] is not totals:  # totals are replaced, never changed in place
            cached = self._texts[hour] = (totals, totals_to_text(totals))
        return cached[1]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DayState:
        if not data:
            return cls()
        if "total" in data:
            return cls(total=data["total"], roots=data["roots"])
        return cls(hours={_dt(h): totals_from_text(t) for h, t in data["hours"].items()})
