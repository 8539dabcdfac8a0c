"""The one base of epd_common's own errors.

Errors epd_common raises on purpose derive from CommonError, so a caller can catch "a record or
setting was refused" without also catching a ValueError that is a programming bug.
"""

from __future__ import annotations


class CommonError(Exception):
    """Input that epd_common refuses; the message says which and why."""
