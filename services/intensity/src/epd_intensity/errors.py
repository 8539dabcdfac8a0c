"""The one base of epd_intensity's own errors.

Every error this package raises on purpose (bad configuration, factor data, quantities) derives
from IntensityError, so a caller can catch "the data or configuration was refused" without also
catching a ValueError or TypeError that is a programming bug. Argument checks that only a caller
bug can trip (a naive datetime, an unknown window size) stay ValueError.
"""

from __future__ import annotations


class IntensityError(Exception):
    """Input that epd_intensity refuses; the message says which input and why."""
