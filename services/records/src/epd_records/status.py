"""What a viewer sees of a version's status: the one rule for pushing and pulling records.

A viewer is a partner body (its recognition agreement) or anyone reading under the same terms.
The only thing that sets viewers apart is whether they accept provisional (unverified) versions.
Per series a viewer sees exactly one Active version:

| version status | viewer without provisional | viewer accepting provisional |
|---|---|---|
| draft | not served | not served |
| provisional | not served | Active (marked unverified) |
| verified (transient: approval publishes it in the same transaction) | not served | not served |
| published | Active | Deprecated while a provisional successor awaits a verifier, else Active |
| deprecated, expired | Deprecated | Deprecated |
| withdrawn after it was published | Deprecated (marked withdrawn) | Deprecated (marked withdrawn) |
| withdrawn while provisional (rejected, or withdrawn) | not served | Deprecated (marked withdrawn) |

PACT v3 knows only Active and Deprecated, and says Deprecated records SHOULD NOT be used: that is
what superseded, expired and withdrawn mean. The EN 15804 status travels in the record extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from epd.v1 import footprint_pb2


class PactStatus(StrEnum):
    ACTIVE = "Active"
    DEPRECATED = "Deprecated"


@dataclass(frozen=True, slots=True)
class Viewer:
    accepts_provisional: bool = False


#: Everyone else: the public and partners that do not accept provisional versions.
PUBLIC = Viewer(accepts_provisional=False)

_S = footprint_pb2.FootprintStatus


def status_name(status: int) -> str:
    """4 -> 'published'; 'unknown' for numbers the enum does not define."""
    if status not in _S.values():
        return "unknown"
    return _S.Name(status).removeprefix("FOOTPRINT_STATUS_").lower()


def was_published(fv: footprint_pb2.FootprintVersion) -> bool:
    """A version gets its validity (valid_from) when it is published, and keeps it."""
    return fv.HasField("valid_from")


def served_status(fv: footprint_pb2.FootprintVersion, viewer: Viewer) -> PactStatus | None:
    """The PACT status this viewer sees, or None when the version is not served to it."""
    status = fv.status
    if status == _S.FOOTPRINT_STATUS_PROVISIONAL:
        return PactStatus.ACTIVE if viewer.accepts_provisional else None
    if status == _S.FOOTPRINT_STATUS_PUBLISHED:
        superseded = viewer.accepts_provisional and bool(fv.superseding_provisional_pf_id)
        return PactStatus.DEPRECATED if superseded else PactStatus.ACTIVE
    if status in (_S.FOOTPRINT_STATUS_DEPRECATED, _S.FOOTPRINT_STATUS_EXPIRED):
        return PactStatus.DEPRECATED
    if status == _S.FOOTPRINT_STATUS_WITHDRAWN:
        return PactStatus.DEPRECATED if was_published(fv) or viewer.accepts_provisional else None
    return None  # draft, unspecified, unknown


def change_concerns(change_type: int, viewer: Viewer) -> bool:
    """Whether a change of this type changes what this viewer sees (beyond the status rule above).

    A provisional successor appearing or going away changes only what viewers accepting provisional
    versions see of the preceding version."""
    if change_type == footprint_pb2.FOOTPRINT_CHANGE_TYPE_SUCCESSOR_CHANGED:
        return viewer.accepts_provisional
    return True
