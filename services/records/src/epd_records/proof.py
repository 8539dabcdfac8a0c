"""Check an inclusion proof (format epd-inclusion-proof/1) offline, with public material only (pure).

A proof says: this meter reading is a leaf of its hourly window (`hour.path` leads from the reading
hash to `hour.merkle_root`); that hour is a leaf of the window the version was computed from
(`window.path` leads from the hour's root to `window.merkle_root`, or the window is the hour itself:
same window id and revision, same root, an empty path); that window is a leaf of the
version's evidence tree (`version.path` leads from the window's evidence leaf to
`version.evidence_root`); and `record`, the version's PACT record signed by the programme, carries
that evidence root and lists that window. Tree shape and leaves: epd_records.merkle. The format is
documented in services/footprint/README.md, so a partner can check it with its own code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from epd_records.errors import ProofError
from epd_records.merkle import evidence_leaf, evidence_root, fold_path, is_hash
from epd_records.pact import EXTENSION_NAME
from epd_records.record import verify_pact_record

PROOF_FORMAT = "epd-inclusion-proof/1"


def _part(proof: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    part = proof.get(name)
    if not isinstance(part, Mapping):
        raise ProofError(f"the proof has no {name!r} object")
    return part


def _root(part: Mapping[str, Any], key: str, what: str) -> str:
    value = part.get(key)
    if not is_hash(value):
        raise ProofError(f"{what} is not a lower-case hex SHA-256")
    assert isinstance(value, str)
    return value


def _record_data(record: Mapping[str, Any]) -> Mapping[str, Any]:
    for ext in record.get("extensions") or []:
        schema = ext.get("dataSchema") if isinstance(ext, Mapping) else None
        if isinstance(schema, str) and schema.endswith(f"/{EXTENSION_NAME}/data-model.json"):
            data = ext.get("data")
            if isinstance(data, Mapping):
                return data
    raise ProofError(f"the record has no {EXTENSION_NAME} extension")


def verify_proof(proof: Mapping[str, Any], jwks: Mapping[str, Any]) -> list[str]:
    """The checks that held, in order; ProofError (or SignatureError for the record) at the first that does not."""
    if proof.get("format") != PROOF_FORMAT:
        raise ProofError(f"not an {PROOF_FORMAT} proof")
    reading, hour, window, version = (_part(proof, n) for n in ("reading", "hour", "window", "version"))
    steps = []
    reading_hash = _root(reading, "hash", "reading.hash")
    hour_root = _root(hour, "merkle_root", "hour.merkle_root")
    if fold_path(reading_hash, hour.get("path", [])) != hour_root:
        raise ProofError("the reading is not in the hourly window: hour.path does not lead to hour.merkle_root")
    steps.append(
        f"reading {reading_hash[:16]}... is a leaf of hourly window {hour.get('window_id')} ({hour_root[:16]}...)"
    )
    window_root = _root(window, "merkle_root", "window.merkle_root")
    the_hour_itself = (
        (window.get("window_id"), window.get("revision")) == (hour.get("window_id"), hour.get("revision"))
        and window.get("path") == []
        and window_root == hour_root
    )
    if the_hour_itself:
        steps.append(f"that hour is the version's window {window.get('window_id')} revision {window.get('revision')}")
    elif fold_path(hour_root, window.get("path", [])) != window_root:
        raise ProofError("the hour is not in the version's window: window.path does not lead to window.merkle_root")
    else:
        steps.append(f"that hour is a leaf of window {window.get('window_id')} revision {window.get('revision')}")
    if not isinstance(window.get("window_id"), str) or not isinstance(window.get("revision"), int):
        raise ProofError("window.window_id and window.revision are required")
    leaf = evidence_leaf(window["window_id"], window["revision"], window_root)
    version_root = _root(version, "evidence_root", "version.evidence_root")
    if fold_path(leaf, version.get("path", [])) != version_root:
        raise ProofError("the window is not in the version's evidence: version.path does not lead to evidence_root")
    steps.append(f"that window is a leaf of the evidence root {version_root[:16]}... of version {version.get('pf_id')}")
    record = proof.get("record")
    if not isinstance(record, Mapping):
        raise ProofError("the proof carries no signed record")
    kid = verify_pact_record(record, jwks)
    steps.append(f"the record's signature verifies (key {kid})")
    if str(record.get("id")) != str(version.get("pf_id")):
        raise ProofError(f"the record is of {record.get('id')}, not of version {version.get('pf_id')}")
    data = _record_data(record)
    if data.get("evidenceRoot") != version_root:
        raise ProofError("the signed record does not carry this evidence root")
    listed = data.get("evidence") or []
    links: list[tuple[str, int, str]] = []
    for e in listed:
        w, r, m = (e.get("windowId"), e.get("revision"), e.get("merkleRoot")) if isinstance(e, Mapping) else (0, 0, 0)
        if not isinstance(w, str) or not isinstance(r, int) or not isinstance(m, str) or not is_hash(m):
            raise ProofError("the record's evidence list is malformed")
        links.append((w, r, m))
    if (window["window_id"], window["revision"], window_root) not in links:
        raise ProofError("the signed record does not list the window as evidence")
    if evidence_root(links) != version_root:
        raise ProofError("the record's evidence list does not give its evidence root")
    steps.append("the signed record carries that evidence root and lists the window")
    return steps
