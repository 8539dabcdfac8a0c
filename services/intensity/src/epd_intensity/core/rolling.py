"""Derived windows (UTC daily, trailing 30 days) computed exactly from hourly windows.

A daily window [d, d+1 day) sums the hourly windows starting in it. The trailing 30-day window
ending at a day boundary E is [E - 30 days, E) and sums the hourly windows in it; it is emitted at
each daily close. Sums are exact over the quantised hourly figures; allocation and intensities are
then recomputed on the summed outputs (so emissions of an hour without output are still allocated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from epd.v1 import intensity_pb2
from epd_intensity.core.ids import DAY, ROLLING, day_start
from epd_intensity.core.totals import WindowTotals, combine
from epd_intensity.core.window import build_window
from epd_intensity.processes import ProcessConfig

DAILY = intensity_pb2.WINDOW_SIZE_DAILY
ROLLING_30D = intensity_pb2.WINDOW_SIZE_ROLLING_30D


def derived_span(size: intensity_pb2.WindowSize, start: datetime) -> tuple[datetime, datetime]:
    return start, start + (DAY if size == DAILY else ROLLING)


def derived_windows_of_hour(hour: datetime) -> list[tuple[intensity_pb2.WindowSize, datetime]]:
    """(size, start) of every derived window containing the hour: its day and 30 rolling windows."""
    day = day_start(hour)
    out = [(DAILY, day)]
    out.extend((ROLLING_30D, day + DAY * (i + 1) - ROLLING) for i in range(30))
    return out


def rolling_start_for_day(day: datetime) -> datetime:
    """Start of the trailing 30-day window emitted when `day` closes."""
    return day_start(day) + DAY - ROLLING


def derive(
    hourly: Mapping[datetime, WindowTotals],
    process: ProcessConfig,
    size: intensity_pb2.WindowSize,
    start: datetime,
    revision: int,
    computed_at: datetime,
) -> intensity_pb2.IntensityWindow | None:
    """The derived window from the latest hourly totals by hour start; None when it has no hours."""
    lo, hi = derived_span(size, start)
    children: Iterable[WindowTotals] = [t for h, t in sorted(hourly.items()) if lo <= h < hi]
    children = list(children)
    if not children:
        return None
    return build_window(combine(children), process, size, start, revision, computed_at)
