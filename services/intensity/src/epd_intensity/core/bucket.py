"""An hourly event-time bucket of one process: the base unit every window is computed from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from epd_intensity.core.decimals import add
from epd_intensity.core.evidence import is_reading_hash, root_of_leaves, valid_leaf
from epd_intensity.core.ids import HOUR, hour_start
from epd_intensity.core.readings import AdmittedReading

ActivityKey = tuple[int, str, str]
_ZERO = Decimal(0)


@dataclass
class Bucket:
    process_id: str
    start: datetime
    quantities: dict[ActivityKey, Decimal] = field(default_factory=dict)
    reading_hashes: dict[str, str] = field(default_factory=dict)  # reading_id -> reading_hash
    # Leaf digest per reading hash: a late reading re-emits the hour, which hashes only the new leaf.
    _leaves: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def end(self) -> datetime:
        return self.start + HOUR

    @classmethod
    def for_reading(cls, reading: AdmittedReading) -> Bucket:
        return cls(reading.process.process_id, hour_start(reading.event_time))

    def add(self, reading: AdmittedReading) -> bool:
        """Accumulate exactly; False (nothing changed) when the reading id is already here."""
        if reading.reading_id in self.reading_hashes:
            return False
        if not self.start <= reading.event_time < self.start + HOUR or reading.process.process_id != self.process_id:
            raise ValueError("reading does not belong to this bucket")  # caller bug, not data
        self.reading_hashes[reading.reading_id] = reading.reading_hash
        self.quantities[reading.key] = add(self.quantities.get(reading.key, Decimal(0)), reading.quantity)
        return True

    def take(self, reading: AdmittedReading) -> None:
        """`add` for a reading the caller has checked: new here, and of this bucket's process and hour
        (the processor keys buckets by the reading's process and hour and asks for the id first)."""
        self.reading_hashes[reading.reading_id] = reading.reading_hash
        quantities, key = self.quantities, reading.key
        quantities[key] = add(quantities.get(key, _ZERO), reading.quantity)

    @property
    def reading_count(self) -> int:
        return len(self.reading_hashes)

    def merkle_root(self) -> str:
        """evidence.merkle_root of the reading hashes, each leaf made once. Every hash is valid: `add` takes
        admitted readings (admit validates the hash), `from_dict` checks what it loads."""
        leaves = self._leaves
        level = []
        for h in sorted(set(self.reading_hashes.values())):
            digest = leaves.get(h)
            if digest is None:
                digest = leaves[h] = valid_leaf(h)
            level.append(digest)
        return root_of_leaves(level)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (decimals as strings) for a faust table or a changelog."""
        return {
            "process_id": self.process_id,
            "start": self.start.isoformat(),
            "quantities": [[k, c, u, str(q)] for (k, c, u), q in sorted(self.quantities.items())],
            "reading_hashes": dict(sorted(self.reading_hashes.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bucket:
        hashes = dict(data["reading_hashes"])
        for h in hashes.values():
            if not is_reading_hash(h):
                raise ValueError(f"not a lowercase hex SHA-256: {h[:70]!r}")
        return cls(
            data["process_id"],
            datetime.fromisoformat(data["start"]),
            {(int(k), c, u): Decimal(q) for k, c, u, q in data["quantities"]},
            hashes,
        )
