"""The one error base of the record model; every failure names its reason in the message."""

from __future__ import annotations


class RecordError(Exception):
    """Base of every error this package raises on purpose (never a programming error)."""


class MappingError(RecordError):
    """A footprint version cannot be expressed in the requested format; the message says why."""


class SignatureError(RecordError):
    """Signing or verification failed; the message says why."""


class EventError(MappingError):
    """An event cannot be built, or an incoming event is malformed; the message says why."""


class RenderError(RecordError):
    """A change cannot be rendered for a delivery endpoint; the message says why."""


class ProofError(RecordError):
    """A Merkle path, an inclusion proof or an audit snapshot that does not hold; the message says which step."""
