"""What became of one intensity window: a kind, and for refusals the stable reason code and a message.

The texts derived here are contracts: `label` is the value of epd_footprint_windows_total{outcome}
(dashboards and alerts use it), `stored` and `stored_detail` are what footprint_applied_windows keeps
in its outcome and detail columns. They are the texts the service wrote before outcomes had a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .engine.errors import ProductSystemError
from .windows import WindowError


class OutcomeKind(StrEnum):
    APPLIED = "applied"  # folded into at least one live system and evaluated
    DUPLICATE = "duplicate"  # (window_id, revision) was applied before: nothing changes
    IGNORED_SIZE = "ignored_size"  # a window size the service is not configured for
    UNBOUND = "unbound"  # no product system binds the window's process to telemetry
    STALE = "stale"  # older than the window the live inventory already holds
    UNUSABLE = "unusable"  # the window cannot give a per-run inventory (reason: no_output, unit_mismatch, ...)
    ENGINE = "engine"  # the engine refused the live system (reason: a ProductSystemError reason)
    REJECTED = "rejected"  # the record did not decode or validate (reason); a footprint_rejected_windows row


@dataclass(frozen=True, slots=True)
class WindowOutcome:
    kind: OutcomeKind
    reason: str = ""  # UNUSABLE, ENGINE, REJECTED: the stable reason code
    detail: str = ""  # UNUSABLE, ENGINE, REJECTED: the message

    @classmethod
    def rejected(cls, reason: str, detail: str) -> WindowOutcome:
        return cls(OutcomeKind.REJECTED, reason, detail)

    @classmethod
    def unusable(cls, exc: WindowError) -> WindowOutcome:
        return cls(OutcomeKind.UNUSABLE, exc.reason, exc.message)

    @classmethod
    def engine(cls, exc: ProductSystemError) -> WindowOutcome:
        return cls(OutcomeKind.ENGINE, exc.reason.value, str(exc))

    @property
    def label(self) -> str:
        """The metric label: the kind, or the reason code for refusals ("no_output",
        "engine_singular_system", "rejected_malformed")."""
        if self.kind is OutcomeKind.UNUSABLE:
            return self.reason
        if self.kind is OutcomeKind.ENGINE:
            return f"engine_{self.reason}"
        if self.kind is OutcomeKind.REJECTED:
            return f"rejected_{self.reason}"
        return self.kind.value

    @property
    def stored(self) -> str:
        """footprint_applied_windows.outcome."""
        return self.label

    @property
    def stored_detail(self) -> str:
        """footprint_applied_windows.detail: "<label>:<message>", or the label alone."""
        return f"{self.label}:{self.detail}" if self.detail else self.label


APPLIED = WindowOutcome(OutcomeKind.APPLIED)
DUPLICATE = WindowOutcome(OutcomeKind.DUPLICATE)
IGNORED_SIZE = WindowOutcome(OutcomeKind.IGNORED_SIZE)
UNBOUND = WindowOutcome(OutcomeKind.UNBOUND)
STALE = WindowOutcome(OutcomeKind.STALE)
