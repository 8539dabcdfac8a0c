"""The one error base of the publisher: every failure it raises on purpose derives from it, so a
caller that handles "the publisher refused" never catches a programming error by accident."""

from __future__ import annotations


class PublisherError(Exception):
    """Base of the publisher's own errors; the message says why."""


class AgreementError(PublisherError):
    """A recognition agreement names product category rules (PCRs) that are not registered."""


class EndpointError(PublisherError):
    """A partner endpoint cannot be registered or used as given (format, signing, secrets)."""


class UnmatchedChange(PublisherError):
    """A change-feed event that matches no outbox row in PostgreSQL: not written by the footprint
    service (forged on the topic, or altered), so it is never signed or delivered."""
