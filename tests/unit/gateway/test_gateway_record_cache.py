"""Signed-record cache: LRU bound, digest mismatch is a miss, key rotation empties it; the SQL
classification candidates cover every stored form that maps to a filter URN."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from epd_gateway.record_cache import CachedRecord, SignedRecordCache, inputs_digest, response_json
from epd_gateway.repository import classification_candidates
from epd_records.pact import classification_urn
from epd_records.status import PactStatus


def entry(digest: bytes, body: bytes = b"{}") -> CachedRecord:
    return CachedRecord(digest, body, "sig", PactStatus.ACTIVE, frozenset())


def test_hit_needs_same_viewer_kid_and_inputs():
    cache = SignedRecordCache(10)
    d = inputs_digest(["pf", "published", "Org A"])
    cache.put(("pf", False, "k1"), entry(d))
    assert cache.get(("pf", False, "k1"), d) is not None
    assert cache.get(("pf", True, "k1"), d) is None  # another viewer sees another record
    assert cache.get(("pf", False, "k1"), inputs_digest(["pf", "deprecated", "Org A"])) is None  # status change
    assert cache.get(("pf", False, "k1"), inputs_digest(["pf", "published", "Org B"])) is None  # party edit


def test_rotation_empties_and_lru_bounds():
    cache = SignedRecordCache(2)
    d = inputs_digest([1])
    for pf in ("a", "b"):
        cache.put((pf, False, "k1"), entry(d))
    assert cache.get(("a", False, "k1"), d) is not None  # a is now most recent
    cache.put(("c", False, "k1"), entry(d))
    assert len(cache) == 2 and cache.get(("b", False, "k1"), d) is None
    assert cache.get(("a", False, "k2"), d) is None and len(cache) == 0  # new kid: old signatures gone
    off = SignedRecordCache(0)
    off.put(("a", False, "k1"), entry(d))
    assert len(off) == 0


def test_digest_is_deterministic_over_row_values():
    values = [uuid.UUID(int=1), datetime(2026, 1, 1, tzinfo=UTC), ["hs:2846.90"], "Org"]
    assert inputs_digest(values) == inputs_digest(list(values))
    assert inputs_digest(values) != inputs_digest([*values[:3], "Org2"])


def test_response_json_matches_body_bytes():
    assert response_json({"a": "é", "b": [1, "2"]}) == '{"a":"é","b":[1,"2"]}'.encode()
    assert entry(b"", response_json({"x": "1"})).footprint == {"x": "1"}


def test_classification_candidates_cover_every_stored_form():
    for stored in (
        "hs:2846.90",
        "HS:2846.90",
        "cpc:46",
        "un-cpc:46",
        "cn:2846",
        "cas:7440-00-8",
        "urn:pact:productclassification:hs:8505.11",
    ):
        urn = classification_urn(stored).lower()
        assert stored.lower() in classification_candidates((urn,)), stored
    assert classification_candidates(("urn:x:y",)) == ("urn:x:y",)
