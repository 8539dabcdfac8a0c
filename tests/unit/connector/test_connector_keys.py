"""The connector's key file and key ids: ids from the RFC 7638 thumbprint, a changed file taken at the next
batch, an unreadable or pinned-against change refused without losing the key in use, atomic key pairs."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from prometheus_client import REGISTRY

from epd_connector.keys import KeyFile, key_id_for, write_key_pair
from epd_connector.signing import generate_private_key, load_private_key, load_public_key, public_key_to_raw


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_key_ids_follow_the_rfc_8037_thumbprint_example():
    """RFC 8037 appendix A.3: the Ed25519 public key `11qYAYKx...` has the RFC 7638 thumbprint
    kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k (base64url of SHA-256)."""
    x = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    thumbprint = base64.urlsafe_b64decode("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k=")
    assert key_id_for(Ed25519PublicKey.from_public_bytes(x)) == "ed25519-" + thumbprint.hex()[:32]


def test_key_ids_are_registry_ids_and_differ_per_key():
    ids = {key_id_for(generate_private_key().public_key()) for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) == len("ed25519-") + 32 and i.replace("-", "").isalnum() for i in ids)


def test_write_key_pair_is_private_and_readable(tmp_path):
    path = tmp_path / "plant.key"
    key = generate_private_key()
    write_key_pair(path, key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert public_key_to_raw(load_private_key(path.read_bytes()).public_key()) == public_key_to_raw(key.public_key())
    assert public_key_to_raw(load_public_key((tmp_path / "plant.key.pub").read_bytes())) == public_key_to_raw(
        key.public_key()
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plant.key", "plant.key.pub"]  # no temporary left


def test_a_replaced_key_file_is_taken_at_the_next_signature(tmp_path):
    path = tmp_path / "plant.key"
    old, new = generate_private_key(), generate_private_key()
    write_key_pair(path, old)
    keys = KeyFile(path)
    assert keys.current().key_id == key_id_for(old.public_key())
    changes = _metric("epd_connector_key_changes_total")
    write_key_pair(path, new)
    current = keys.current()
    assert current.key_id == key_id_for(new.public_key())
    assert public_key_to_raw(current.private_key.public_key()) == public_key_to_raw(new.public_key())
    assert _metric("epd_connector_key_changes_total") == changes + 1
    assert keys.current() is current  # unchanged file: not read again


@pytest.mark.parametrize("content", [b"", b"-----BEGIN PRIVATE KEY-----\ntruncated", b"\x00" * 31])
def test_an_unreadable_key_file_keeps_the_key_in_use(tmp_path, content):
    path = tmp_path / "plant.key"
    key = generate_private_key()
    write_key_pair(path, key)
    keys = KeyFile(path)
    failures = _metric("epd_connector_key_reload_failures_total")
    path.write_bytes(content)
    assert keys.current().key_id == key_id_for(key.public_key())
    path.unlink()
    assert keys.current().key_id == key_id_for(key.public_key())
    assert _metric("epd_connector_key_reload_failures_total") == failures + 2


def test_a_pinned_key_id_never_names_other_key_material(tmp_path):
    path = tmp_path / "plant.key"
    key = generate_private_key()
    write_key_pair(path, key)
    keys = KeyFile(path, pinned_key_id="baotou-smelter-2025")
    assert keys.current().key_id == "baotou-smelter-2025"
    write_key_pair(path, generate_private_key())
    kept = keys.current()
    assert kept.key_id == "baotou-smelter-2025"
    assert public_key_to_raw(kept.private_key.public_key()) == public_key_to_raw(key.public_key())
