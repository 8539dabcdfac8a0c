"""The crypto helpers moved from the gateway into epd_common: what the old code stored still opens."""

from __future__ import annotations

import pytest

from epd_common import crypto
from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn, SecretKeyError

SECRET = "legacy-operator-secret-0123"
# Written with the gateway's former epd_gateway.secrets (key for "signing-keys", aad "kid-legacy"):
LEGACY_NONCE = bytes.fromhex("2d0e48872261e5e98b0eb574")
LEGACY_SEALED = bytes.fromhex(
    "3b0f2939f8c3927132ff691781e53194b75d977a818fd3f1c2a12280b8a806e7fd754fe837468e1cac09cb4b097f409e3796ba7e1f"
)
# Written by the publisher's EndpointSecrets before the move (endpoint "endpoint-legacy", webhook column):
LEGACY_ENDPOINT_SECRET = bytes.fromhex(
    "01e9d3966b2c27fdfea802ab91af65a4445f8f50193b3a800e21c0d53ab2dfda521470f47ebac6cee61593e92be38436ce786814f01141"
    "9c3b10eadce8db32da56b7f5"
)
# An scrypt hash of "client-secret-legacy" made by the former epd_gateway.secrets.hash_secret:
LEGACY_CLIENT_HASH = "scrypt$16384$8$1$o4yTMEuTc48p12VPlxKRTQ$1hS_gBB17OzigHer-XdM0c1LTl0yXymeKnzpzwPUTbs"


def test_a_signing_key_sealed_by_the_old_gateway_code_still_opens():
    key = crypto.derive_key(SECRET, "signing-keys")
    plain = crypto.decrypt(key, LEGACY_NONCE, LEGACY_SEALED, b"kid-legacy")
    assert plain == b'{"kty":"OKP","crv":"Ed25519","d":"x"}'


def test_an_endpoint_secret_sealed_before_the_move_still_opens():
    opened = EndpointSecrets(SECRET).open("endpoint-legacy", SecretColumn.WEBHOOK, LEGACY_ENDPOINT_SECRET)
    assert opened == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_client_secret_hashes_made_before_the_move_still_check():
    assert crypto.check_secret("client-secret-legacy", LEGACY_CLIENT_HASH)
    assert not crypto.check_secret("client-secret-legacy!", LEGACY_CLIENT_HASH)


def test_a_wrong_secret_or_another_place_never_opens():
    key = crypto.derive_key(SECRET, "signing-keys")
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(key, LEGACY_NONCE, LEGACY_SEALED, b"another-kid")
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(crypto.derive_key(SECRET + "x", "signing-keys"), LEGACY_NONCE, LEGACY_SEALED, b"kid-legacy")
    with pytest.raises(SecretKeyError):
        EndpointSecrets(SECRET).open("another-endpoint", SecretColumn.WEBHOOK, LEGACY_ENDPOINT_SECRET)


def test_the_salt_prefix_is_the_one_stored_keys_were_derived_with():
    assert crypto.KEY_SALT_PREFIX == b"epd-gateway/"
