"""Signed PACT records kept in memory, so a listing maps and signs each version once, not per request.

Key: (pf_id, status, kid). A version is immutable except its status, and the signature depends on
the key, so those three name the signed record. What a record is built from also includes rows a
version does not own (organisation name and company ids, product name and classifications, plant
province): the entry keeps a digest of every input column and is rebuilt when it differs, so an
edited organisation never keeps an old record alive. A key rotation empties the cache. Bounded LRU.

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

LOOKUPS = Counter("epd_gateway_record_cache_lookups_total", "Signed-record cache lookups", ["outcome"])
_HIT, _MISS, _STALE = (LOOKUPS.labels(o) for o in ("hit", "miss", "stale"))


def response_json(value: Any) -> bytes:
    """The bytes Starlette's JSONResponse renders for `value`."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def inputs_digest(values: Iterable[Any]) -> bytes:
    """Digest of a record's input columns (their reprs are deterministic: str, UUID, datetime, lists)."""
    return hashlib.blake2b(repr(tuple(values)).encode(), digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class SignedRecord:
    digest: bytes
    body: bytes  # the ProductFootprint with its signature extension, as response JSON
    signature: str
    classifications: frozenset[str]  # lower-cased productClassifications URNs

    @property
    def footprint(self) -> dict[str, Any]:
        return json.loads(self.body)


class SignedRecordCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str], SignedRecord] = OrderedDict()
        self._kid: str | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def _key_ring(self, kid: str) -> None:
        if kid != self._kid:  # rotation: every cached signature is by the old key
            self._entries.clear()
            self._kid = kid

    def get(self, pf_id: str, status: str, kid: str, digest: bytes) -> SignedRecord | None:
        self._key_ring(kid)
        key = (pf_id, status, kid)
        entry = self._entries.get(key)
        if entry is None or entry.digest != digest:
            (_MISS if entry is None else _STALE).inc()
            return None
        self._entries.move_to_end(key)
        _HIT.inc()
        return entry

    def put(self, pf_id: str, status: str, kid: str, record: SignedRecord) -> None:
        if self.max_entries <= 0:
            return
        self._key_ring(kid)
        key = (pf_id, status, kid)
        self._entries[key] = record
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
