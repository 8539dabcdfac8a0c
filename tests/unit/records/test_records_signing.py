"""Record signatures: verified by libraries the signer does not use (jwcrypto, PyJWT), rotation, hostility."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from joserfc import jws
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws
from jwt.algorithms import OKPAlgorithm

from epd_records.pact import product_footprint
from epd_records.signing import (
    ALG,
    EDDSA_ONLY,
    KeyRing,
    SignatureError,
    canonical_json,
    generate_key,
    new_key_ring,
    rotate,
    sign_payload,
    sign_record,
    verify_payload,
    verify_record,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def record(make_version, party):
    return product_footprint(make_version(), party)


def verify_with_jwcrypto(payload: bytes, signature: str, jwks: dict) -> None:
    header = json.loads(base64.urlsafe_b64decode(signature.split(".")[0] + "=="))
    key = jc_jwk.JWKSet.from_json(json.dumps(jwks)).get_key(header["kid"])
    token = jc_jws.JWS()
    token.deserialize(signature)
    token.verify(key, alg="EdDSA", detached_payload=payload)


def verify_with_pyjwt(payload: bytes, signature: str, jwks: dict) -> None:
    """PyJWT >= 2.10 implements RFC 7797 detached b64=false decoding itself."""
    kid = jwt.get_unverified_header(signature)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    jwt.api_jws.PyJWS().decode_complete(signature, key, algorithms=["EdDSA"], detached_payload=payload)


def verify_by_signing_input(payload: bytes, signature: str, jwks: dict) -> bool:
    """Rebuild ASCII(BASE64URL(header)) || '.' || payload and check it with PyJWT's Ed25519 primitive."""
    header_segment, _, sig_segment = signature.split(".")
    kid = json.loads(base64.urlsafe_b64decode(header_segment + "=="))["kid"]
    entry = next(k for k in jwks["keys"] if k["kid"] == kid)
    algo = OKPAlgorithm()
    return algo.verify(
        header_segment.encode() + b"." + payload, algo.from_jwk(entry), base64.urlsafe_b64decode(sig_segment + "==")
    )


def test_signature_shape_and_kid_thumbprint(record):
    ring = new_key_ring()
    signature = sign_record(record, ring)
    header_segment, payload_segment, _ = signature.split(".")
    assert payload_segment == ""
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=="))
    assert header == {"alg": "EdDSA", "b64": False, "crit": ["b64"], "kid": ring.kid}
    (published,) = ring.public_jwks()["keys"]
    assert "d" not in published
    assert jc_jwk.JWK(**published).thumbprint() == ring.kid  # RFC 7638, computed by jwcrypto


def test_three_independent_verifiers_accept(record):
    ring = new_key_ring()
    signature = sign_record(record, ring)
    jwks = ring.public_jwks()
    payload = canonical_json(record)
    assert verify_record(record, signature, jwks) == ring.kid
    verify_with_jwcrypto(payload, signature, jwks)
    verify_with_pyjwt(payload, signature, jwks)
    assert verify_by_signing_input(payload, signature, jwks)


def test_payload_is_rfc8785_canonical_json():
    # For ASCII strings and integers RFC 8785 equals sorted keys without whitespace.
    record = {"z": "1.50", "a": [3, {"y": "x", "b": True}], "m": None}
    ring = new_key_ring()
    signature = sign_record(record, ring)
    independent = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    assert canonical_json(record) == independent
    verify_with_jwcrypto(independent, signature, ring.public_jwks())
    assert verify_record(dict(reversed(list(record.items()))), signature, ring.public_jwks())


def test_rotation_keeps_old_records_verifiable(record):
    first = new_key_ring()
    old_signature = sign_record(record, first)
    second = rotate(first)
    third = rotate(second)
    new_signature = sign_record(record, third)
    jwks = third.public_jwks()
    assert [k["kid"] for k in jwks["keys"]] == [third.kid, second.kid, first.kid]
    assert all("d" not in k for k in jwks["keys"])
    payload = canonical_json(record)
    for signature, kid in ((old_signature, first.kid), (new_signature, third.kid)):
        assert verify_record(record, signature, jwks) == kid
        verify_with_jwcrypto(payload, signature, jwks)
        verify_with_pyjwt(payload, signature, jwks)
    restored = KeyRing.from_storage(json.loads(json.dumps(third.to_storage())))
    assert restored.kid == third.kid and restored.public_jwks() == jwks
    assert verify_record(record, sign_record(record, restored), jwks) == third.kid


def test_one_byte_change_fails_everywhere(record):
    ring = new_key_ring()
    signature = sign_record(record, ring)
    jwks = ring.public_jwks()
    payload = canonical_json(record)
    value = record["pcf"]["pcfIncludingBiogenicUptake"]
    tampered_value = value[:-1] + ("1" if value[-1] != "1" else "2")
    tampered = json.loads(json.dumps(record))
    tampered["pcf"]["pcfIncludingBiogenicUptake"] = tampered_value
    tampered_payload = canonical_json(tampered)
    assert len(tampered_payload) == len(payload)
    assert sum(a != b for a, b in zip(payload, tampered_payload, strict=True)) == 1
    with pytest.raises(SignatureError, match="does not verify"):
        verify_record(tampered, signature, jwks)
    with pytest.raises(jc_jws.InvalidJWSSignature):
        verify_with_jwcrypto(tampered_payload, signature, jwks)
    with pytest.raises(jwt.InvalidSignatureError):
        verify_with_pyjwt(tampered_payload, signature, jwks)
    assert not verify_by_signing_input(tampered_payload, signature, jwks)
    sig = bytearray(base64.urlsafe_b64decode(signature.split(".")[2] + "=="))
    sig[10] ^= 0x01
    bad_sig = signature.rsplit(".", 1)[0] + "." + _b64(bytes(sig))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_record(record, bad_sig, jwks)


def _token(header: dict, signature: bytes = b"\0" * 64) -> str:
    return _b64(json.dumps(header).encode()) + ".." + _b64(signature)


def test_hostile_signatures_are_refused_with_a_reason(record):
    ring = new_key_ring()
    jwks = ring.public_jwks()
    good = {"alg": "EdDSA", "b64": False, "crit": ["b64"], "kid": ring.kid}
    payload = canonical_json(record)
    x = base64.urlsafe_b64decode(jwks["keys"][0]["x"] + "==")
    hs_header = {**good, "alg": "HS256"}
    hs_input = _b64(json.dumps(hs_header).encode()).encode() + b"." + payload
    cases = {
        "unknown kid": (sign_record(record, new_key_ring()), "unknown kid"),
        "alg none": (_token({**good, "alg": "none"}, b""), "not unpadded base64url|not accepted"),
        "alg none, sig": (_token({**good, "alg": "none"}), "not accepted"),
        "HS256 with public key as secret": (
            _token(hs_header, hmac.new(x, hs_input, hashlib.sha256).digest()),
            "not accepted",
        ),
        "empty": ("", "three dot-separated parts"),
        "two parts": ("a.b", "three"),
        "four parts": ("a.b.c.d", "three"),
        "attached payload": (_token(good).replace("..", ".eyJ9."), "detached"),
        "header not base64": ("***..AAAA", "base64url"),
        "header padded": (_b64(b"{}") + "=..AA", "unpadded"),
        "header not json": (_b64(b"not json") + ".." + _b64(b"\0" * 64), "not JSON"),
        "header is a list": (_b64(b"[1]") + ".." + _b64(b"\0" * 64), "not a JSON object"),
        "b64 missing": (_token({"alg": "EdDSA", "kid": ring.kid}), "b64"),
        "crit missing": (_token({"alg": "EdDSA", "b64": False, "kid": ring.kid}), "crit"),
        "extra crit": (_token({**good, "crit": ["b64", "exp"]}), "crit"),
        "jku injection": (_token({**good, "jku": "https://evil.example/jwks"}), "unexpected parameters"),
        "no kid": (_token({k: v for k, v in good.items() if k != "kid"}), "no kid"),
        "short signature": (_token(good, b"\0" * 10), "64 bytes"),
        "zero signature": (_token(good), "does not verify"),
        "non-ascii": ("é..é", "ASCII"),
        "huge": ("A" * 5000 + "..A", "at most 1024"),
    }
    for signature, reason in cases.values():
        with pytest.raises(SignatureError, match=reason):
            verify_record(record, signature, jwks)
    for not_a_string in (None, 42, b"abc"):
        with pytest.raises(SignatureError, match="ASCII string"):
            verify_record(record, not_a_string, jwks)  # type: ignore[arg-type]
    # Neither other library accepts the HS256 forgery either.
    forged = cases["HS256 with public key as secret"][0]
    with pytest.raises(jwt.exceptions.PyJWTError):
        verify_with_pyjwt(payload, forged, jwks)


def test_malformed_jwks_are_refused(record):
    ring = new_key_ring()
    signature = sign_record(record, ring)
    public = ring.public_jwks()["keys"][0]
    for jwks, reason in [
        ({}, "'keys' list"),
        ({"keys": "nope"}, "'keys' list"),
        ([], "'keys' list"),
        ({"keys": [{**public, "crv": "Ed448"}]}, "not a public Ed25519 key"),
        ({"keys": [{**public, "kty": "RSA"}]}, "not a public Ed25519 key"),
        ({"keys": [{**public, "d": public["x"]}]}, "not a public Ed25519 key"),
        ({"keys": [{**public, "x": "!!"}]}, "malformed|does not verify"),
    ]:
        with pytest.raises(SignatureError, match=reason):
            verify_record(record, signature, jwks)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"value": 1.5}, "float"),
        ({"nested": [{"v": float("nan")}]}, "float"),
        ({"s": {1, 2}}, "cannot be canonicalised"),
        ({"big": 2**60}, "cannot be canonicalised"),
    ],
)
def test_records_that_cannot_be_signed(record, reason):
    with pytest.raises(SignatureError, match=reason):
        sign_record(record, new_key_ring())


def test_key_ring_rules():
    key = generate_key()
    public_only = type(key).import_key(key.as_dict(private=False))
    with pytest.raises(SignatureError, match="private Ed25519"):
        KeyRing(public_only)
    with pytest.raises(SignatureError, match="unique kid"):
        KeyRing(key, (public_only,))
    for junk in (
        {},
        {"current": "x"},
        {"current": {"kty": "OKP"}},
        {"current": key.as_dict(private=True), "retired": [{"kty": "oct"}]},
    ):
        with pytest.raises(SignatureError):
            KeyRing.from_storage(junk)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"data":[]}',
        b"url-safe_payload",
        b"",
        '{"name":"稀土 \\u0000"}'.encode(),
        ("稀土".encode() + bytes(range(128))) * 2000,
    ],
)
def test_sign_payload_makes_the_bytes_joserfc_makes(payload):
    """sign_payload signs with the Ed25519 primitive itself; the JWS is the one joserfc serialises (detached)."""
    ring = KeyRing(generate_key())
    header = {"alg": ALG, "b64": False, "crit": ["b64"], "kid": ring.kid}
    token = jws.serialize_compact(header, payload, ring.current, registry=EDDSA_ONLY)
    assert sign_payload(payload, ring) == token.split(".", 1)[0] + ".." + token.rsplit(".", 1)[1]
    verify_payload(payload, sign_payload(payload, ring), ring.public_jwks())
