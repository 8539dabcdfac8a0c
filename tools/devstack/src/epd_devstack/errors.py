"""The one base of epd_devstack's own errors."""

from __future__ import annotations


class DevstackError(Exception):
    """The local stack or demo cannot be brought up; the message says what and why."""
