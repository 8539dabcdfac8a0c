"""The one error base of the portal; every failure names its reason in the message."""

from __future__ import annotations


class PortalError(Exception):
    """Base of every error the portal raises on purpose (never a programming error)."""


class NotFound(PortalError):
    """The page, product or version does not exist, or the viewer may not see it."""


class UnsafeDatabaseRole(PortalError):
    """The configured database role can change data; the portal only runs with a read-only role."""


class AdminApiError(PortalError):
    """The footprint admin API refused an operator action, or could not be reached."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message
