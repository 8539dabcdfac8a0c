"""The signed record: one rule (embedded JWS over the record without its signature extension), the
same bytes for the same version, viewer and key, and refusals that say why."""

from __future__ import annotations

import copy

import pytest

from epd.v1 import footprint_pb2
from epd_records.errors import MappingError, SignatureError
from epd_records.record import SIGNATURE_EXTENSION, signed_pact_record, split_signature, verify_pact_record
from epd_records.signing import canonical_json, new_key_ring, rotate
from epd_records.status import PUBLIC, Viewer


def test_a_signed_record_verifies_and_is_the_same_bytes_every_time(make_version, party, pact_schema):
    ring = new_key_ring()
    a = signed_pact_record(make_version(), party, PUBLIC, ring)
    b = signed_pact_record(make_version(), party, PUBLIC, ring)
    assert canonical_json(a.footprint) == canonical_json(b.footprint)  # Ed25519 is deterministic
    pact_schema("ProductFootprint").validate(a.footprint)
    assert verify_pact_record(a.footprint, ring.public_jwks()) == ring.kid
    signature_extensions = [e for e in a.footprint["extensions"] if SIGNATURE_EXTENSION in e["dataSchema"]]
    assert [e["data"]["jws"] for e in signature_extensions] == [a.signature]


def test_a_changed_figure_or_status_fails(make_version, party):
    ring = new_key_ring()
    record = signed_pact_record(make_version(), party, PUBLIC, ring).footprint
    for change in ({"status": "Deprecated"}, {"pcf": {**record["pcf"], "pcfExcludingBiogenicUptake": "0.1"}}):
        with pytest.raises(SignatureError, match="does not verify"):
            verify_pact_record({**copy.deepcopy(record), **change}, ring.public_jwks())


def test_records_signed_before_a_rotation_still_verify(make_version, party):
    ring = new_key_ring()
    record = signed_pact_record(make_version(), party, PUBLIC, ring).footprint
    assert verify_pact_record(record, rotate(ring).public_jwks()) == ring.kid


def test_viewers_get_different_records_of_one_version(make_version, party):
    ring = new_key_ring()
    fv = make_version(superseding_provisional_pf_id="urn:uuid:9b2f1c3e-0d4b-4c1a-9f00-2b7e5d9a1c02")
    public = signed_pact_record(fv, party, PUBLIC, ring)
    provisional = signed_pact_record(fv, party, Viewer(accepts_provisional=True), ring)
    assert (public.footprint["status"], provisional.footprint["status"]) == ("Active", "Deprecated")
    assert public.signature != provisional.signature


def test_a_version_the_viewer_may_not_see_is_not_signed(make_version, party):
    with pytest.raises(MappingError, match="not served"):
        signed_pact_record(make_version(status=footprint_pb2.FOOTPRINT_STATUS_DRAFT), party, PUBLIC, new_key_ring())


@pytest.mark.parametrize(
    ("extensions", "why"),
    [
        ([], "has no"),
        ("x", "not a list"),
        ([{"dataSchema": f"https://x/{SIGNATURE_EXTENSION}/data-model.json", "data": {}}], "has no JWS"),
        ([{"dataSchema": f"https://x/{SIGNATURE_EXTENSION}/data-model.json", "data": {"jws": "a..b"}}] * 2, "more"),
    ],
)
def test_records_without_one_usable_signature_are_refused(extensions, why):
    with pytest.raises(SignatureError, match=why):
        split_signature({"id": "x", "extensions": extensions})
