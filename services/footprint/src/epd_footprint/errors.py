"""The one base of epd_footprint's own errors.

Every error the footprint service raises on purpose (a product system or binding that cannot be
computed, an unusable window, a drift-rule or lifecycle input) derives from FootprintError, so a
caller can catch "the footprint service refused this" without also catching a ValueError that is
a programming bug. Pure: the engine and the domain rules import it.
"""

from __future__ import annotations


class FootprintError(Exception):
    """Input that epd_footprint refuses; the message says which and why."""
