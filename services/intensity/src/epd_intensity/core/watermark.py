"""Event-time watermark with allowed lateness (a pure policy, no clocks).

The watermark of a key is the largest event time accepted so far for it. The faust app keys it by
plant (the readings topic key) rather than by partition number: a per-plant watermark gives the
same decisions whatever the partition count or assignment, so the oracle and the app agree and a
restarted worker decides exactly as before. For a reading at event time t in window [start, end):
- end > watermark                    -> OPEN: accumulate; the window is not emitted yet;
- end + lateness > watermark >= end  -> LATE: accumulate and emit the next revision of the window;
- otherwise                          -> TOO_LATE: correction log.
A window closes (revision 0 is emitted) when the watermark reaches its end, and becomes final
(state may be dropped) when the watermark reaches end + lateness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from epd_intensity.core.ids import HOUR, hour_start
from epd_intensity.core.outcomes import Outcome


@dataclass(frozen=True)
class WatermarkPolicy:
    window: timedelta = HOUR
    # Readings stamped further ahead of their ingestion time are refused (they would close every
    # open window at once); they go to the correction log and do not move the watermark.
    max_future_skew: timedelta = timedelta(minutes=5)

    def decide(
        self,
        event_time: datetime,
        watermark: datetime | None,
        lateness: timedelta,
        ingested_at: datetime | None = None,
        hour: datetime | None = None,
    ) -> Outcome:
        """`hour`: hour_start(event_time) when the caller has it already (AdmittedReading.hour)."""
        if ingested_at is not None and event_time > ingested_at + self.max_future_skew:
            return Outcome.FUTURE
        end = (hour_start(event_time) if hour is None else hour) + self.window
        if watermark is None or end > watermark:
            return Outcome.ACCEPTED
        if end + lateness > watermark:
            return Outcome.LATE_REVISION
        return Outcome.TOO_LATE

    @staticmethod
    def is_closed(window_end: datetime, watermark: datetime | None) -> bool:
        return watermark is not None and watermark >= window_end

    @staticmethod
    def is_final(window_end: datetime, watermark: datetime | None, lateness: timedelta) -> bool:
        return watermark is not None and watermark >= window_end + lateness


@dataclass
class Watermarks:
    """Per-key watermarks (plain dict state; serialisable as ISO strings for a faust table)."""

    by_key: dict[str, datetime] = field(default_factory=dict)

    def get(self, key: str) -> datetime | None:
        return self.by_key.get(key)

    def advance(self, key: str, event_time: datetime) -> tuple[datetime | None, datetime]:
        """Move the key's watermark to max(current, event_time); returns (before, after)."""
        before = self.by_key.get(key)
        after = event_time if before is None or event_time > before else before
        self.by_key[key] = after
        return before, after
