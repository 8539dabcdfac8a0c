"""Signed PACT records kept in memory, so a listing maps and signs each version once, not per request.

Key: (pf_id, viewer, kid). What a viewer sees of a version depends on whether it accepts
provisional versions, and the signature depends on the key, so those three name the signed record.
A version's figures never change, but its status does, and a record also shows rows the version
does not own (the owner's name and company ids, the product's name and classifications, the
plant's province, a provisional successor): the entry keeps a digest of every input column and is
rebuilt when it differs, so an edited organisation never keeps an old record alive. A key rotation
empties the cache. Bounded LRU.

The entry holds the exact JSON bytes the route sends (json.dumps as Starlette's JSONResponse
writes them), so a page is the concatenation of cached bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from epd_records.status import PactStatus

LOOKUPS = Counter("epd_gateway_record_cache_lookups_total", "Signed-record cache lookups", ["outcome"])
_HIT, _MISS, _STALE = (LOOKUPS.labels(o) for o in ("hit", "miss", "stale"))
CacheKey = tuple[str, bool, str]  # pf_id, viewer accepts provisional, kid


def response_json(value: Any) -> bytes:
    """The bytes Starlette's JSONResponse renders for `value`."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def inputs_digest(values: Iterable[Any]) -> bytes:
    """Digest of a record's input columns (their reprs are deterministic: str, UUID, datetime, lists)."""
    return hashlib.blake2b(repr(tuple(values)).encode(), digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class CachedRecord:
    digest: bytes
    body: bytes  # the ProductFootprint with its signature extension, as response JSON
    signature: str
    status: PactStatus  # as the viewer sees it
    classifications: frozenset[str]  # lower-cased productClassifications URNs

    @property
    def footprint(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class SignedRecordCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, CachedRecord] = OrderedDict()
        self._kid: str | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def _key_ring(self, kid: str) -> None:
        if kid != self._kid:  # rotation: every cached signature is by the old key
            self._entries.clear()
            self._kid = kid

    def get(self, key: CacheKey, digest: bytes) -> CachedRecord | None:
        self._key_ring(key[2])
        entry = self._entries.get(key)
        if entry is None or entry.digest != digest:
            (_MISS if entry is None else _STALE).inc()
            return None
        self._entries.move_to_end(key)
        _HIT.inc()
        return entry

    def put(self, key: CacheKey, record: CachedRecord) -> None:
        if self.max_entries <= 0:
            return
        self._key_ring(key[2])
        self._entries[key] = record
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
