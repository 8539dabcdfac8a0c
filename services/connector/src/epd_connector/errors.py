"""The one base of epd_connector's own errors.

Every error this package raises on purpose (a plant configuration, key material, a signature, the
spool, an edge input, a simulator spec) derives from ConnectorError, so a caller can catch "the
connector refused this" without also catching a ValueError that is a programming bug. Argument
checks that only a caller bug can trip (a negative sequence, a zero spool bound) stay ValueError.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Input or state that epd_connector refuses; the message says which and why."""
