"""The one error type of the value-chain engine (a FootprintError), with a machine-readable reason code."""

from __future__ import annotations

from enum import StrEnum

from ..errors import FootprintError


class Reason(StrEnum):
    """Why a product system cannot be computed (stable codes for APIs and CLIs)."""

    MALFORMED = "malformed"  # not YAML/JSON, wrong types, missing fields
    INVALID_NUMBER = "invalid_number"  # NaN, infinite, out of range, negative where not allowed
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_REFERENCE = "unknown_reference"  # product/activity/process id that is not declared
    UNKNOWN_UNIT = "unknown_unit"
    UNIT_MISMATCH = "unit_mismatch"  # e.g. kWh given where the activity is in kg
    MISSING_FACTOR = "missing_factor"  # no GWP for a gas, no price for economic allocation, ...
    MISSING_SOURCE = "missing_source"  # background factor without a source and not marked default
    ALLOCATION_SUM = "allocation_sum"  # explicit allocation factors do not sum to 1
    NO_PRODUCER = "no_producer"
    AMBIGUOUS_PRODUCER = "ambiguous_producer"
    NEGATIVE_NET_OUTPUT = "negative_net_output"  # a process or loop consumes more than it makes
    SINGULAR_SYSTEM = "singular_system"


class ProductSystemError(FootprintError):
    """A product system is malformed or inconsistent; `reason` says why, `where` points at the input."""

    def __init__(self, reason: Reason, message: str, where: str | None = None) -> None:
        self.reason = reason
        self.where = where
        self.message = message
        super().__init__(f"[{reason.value}] {where + ': ' if where else ''}{message}")

    def as_dict(self) -> dict[str, str | None]:
        return {"reason": self.reason.value, "where": self.where, "message": self.message}
