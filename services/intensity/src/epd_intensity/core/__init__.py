"""Pure intensity core: no Kafka, faust or database imports. An adapter calls, per reading:
`admit` -> `WatermarkPolicy.decide` -> `Bucket.add`; per window close or revision:
`compute_totals` -> `build_window`; per day close or revision: `derive`. See oracle.py."""

from epd_intensity.core.bucket import Bucket
from epd_intensity.core.decimals import QuantityError, parse_quantity, quantise, wire
from epd_intensity.core.emissions import GwpMissing, Missing, compute_totals
from epd_intensity.core.evidence import merkle_root
from epd_intensity.core.ids import day_start, hour_start, window_id
from epd_intensity.core.outcomes import Outcome
from epd_intensity.core.readings import AdmittedReading, Refused, admit
from epd_intensity.core.rolling import derive, derived_windows_of_hour, rolling_start_for_day
from epd_intensity.core.totals import WindowTotals, combine
from epd_intensity.core.watermark import WatermarkPolicy, Watermarks
from epd_intensity.core.window import build_window, totals_from_window

__all__ = [
    "AdmittedReading",
    "Bucket",
    "GwpMissing",
    "Missing",
    "Outcome",
    "QuantityError",
    "Refused",
    "WatermarkPolicy",
    "Watermarks",
    "WindowTotals",
    "admit",
    "build_window",
    "combine",
    "compute_totals",
    "day_start",
    "derive",
    "derived_windows_of_hour",
    "hour_start",
    "merkle_root",
    "parse_quantity",
    "quantise",
    "rolling_start_for_day",
    "totals_from_window",
    "window_id",
    "wire",
]
