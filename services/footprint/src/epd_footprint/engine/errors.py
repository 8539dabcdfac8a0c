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
    UNKNOWN_UNIT = "unknown_unit"  # not a spelling of the project's unit vocabulary (units.py)
    AMBIGUOUS_UNIT = "ambiguous_unit"  # `ton`, `unit`, `kt`, ...: several meanings, refused
    UNIT_MISMATCH = "unit_mismatch"  # e.g. kWh given where the activity is in kg
    MISSING_FACTOR = "missing_factor"  # no GWP for a gas, no price for economic allocation, ...
    MISSING_SOURCE = "missing_source"  # background factor without a source and not marked default
    ALLOCATION_SUM = "allocation_sum"  # explicit allocation factors do not sum to 1
    NO_PRODUCER = "no_producer"
    AMBIGUOUS_PRODUCER = "ambiguous_producer"
    NEGATIVE_NET_OUTPUT = "negative_net_output"  # a process or loop consumes more than it makes
    SINGULAR_SYSTEM = "singular_system"
    ILL_CONDITIONED = "ill_conditioned"  # a float64 solve supports no significant digit
    # The product system breaks its product category rules (pcr.py):
    PCR_DECLARED_UNIT = "pcr_declared_unit"  # another declared unit than the PCR's
    PCR_ALLOCATION = "pcr_allocation"  # an allocation method the PCR does not allow
    PCR_GWP_SET = "pcr_gwp_set"  # another GWP set than the PCR's
    PCR_MODULES = "pcr_modules"  # the PCR requires modules the engine does not compute


class ProductSystemError(FootprintError):
    """A product system is malformed or inconsistent; `reason` says why, `where` points at the input."""

    def __init__(self, reason: Reason, message: str, where: str | None = None) -> None:
        self.reason = reason
        self.where = where
        self.message = message
        super().__init__(f"[{reason.value}] {where + ': ' if where else ''}{message}")

    def as_dict(self) -> dict[str, str | None]:
        return {"reason": self.reason.value, "where": self.where, "message": self.message}
