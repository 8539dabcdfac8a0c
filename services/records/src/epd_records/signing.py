"""Record signatures: JWS (RFC 7515) with EdDSA/Ed25519 over RFC 8785 canonical JSON.

The protected header is {"alg": "EdDSA", "b64": false, "crit": ["b64"], "kid": <RFC 7638 thumbprint>}
(RFC 7797 unencoded payload) and the payload is detached, so a signature is `<header>..<signature>`
and its signing input is ASCII(BASE64URL(header)) || '.' || canonical-JSON bytes of the record.

Keys live in a KeyRing: one current private key and any number of retired public keys, all
published in the JWKS forever so that records signed before a rotation still verify.

Note: RFC 9864 deprecates the polymorphic "EdDSA" name in favour of "Ed25519"; we keep "EdDSA"
because the issue asks for it and partner libraries (jwcrypto, PyJWT) know it. joserfc warns about
it on every use, so this module uses a registry that returns the algorithm without the warning.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey
from joserfc.jws import JWSRegistry

from epd_records.errors import SignatureError

ALG = "EdDSA"
CRV: Final = "Ed25519"
MAX_SIGNATURE_CHARS = 1024
MAX_PAYLOAD_BYTES = 1_000_000


class _EdDSAOnly(JWSRegistry):
    """Allows EdDSA and nothing else (so alg:none or HS256 can never be accepted)."""

    max_payload_length = MAX_PAYLOAD_BYTES

    def get_alg(self, name: str) -> Any:
        if name != ALG:
            raise SignatureError(f"algorithm {name!r} is not accepted (only {ALG})")
        return JWSRegistry.algorithms[ALG]


EDDSA_ONLY = _EdDSAOnly(algorithms=[ALG])


def generate_key() -> OKPKey:
    """A new Ed25519 private key whose kid is its RFC 7638 thumbprint."""
    key = OKPKey.generate_key(CRV, private=True)
    return OKPKey.import_key(key.as_dict(private=True), parameters={"kid": key.thumbprint(), "use": "sig", "alg": ALG})


def _public(key: OKPKey) -> OKPKey:
    return OKPKey.import_key(key.as_dict(private=False))


@dataclass(frozen=True)
class KeyRing:
    """The current signing key and the retired verification keys (public parts only)."""

    current: OKPKey
    retired: tuple[OKPKey, ...] = field(default=())
    # kid -> when that retired key stopped being current (Unix time), where known
    retired_since: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.current.is_private or self.current.as_dict().get("crv") != CRV:
            raise SignatureError("the current key must be a private Ed25519 key")
        kids = [self.current.kid, *(k.kid for k in self.retired)]
        if None in kids or len(set(kids)) != len(kids):
            raise SignatureError("every key needs a unique kid")

    @property
    def kid(self) -> str:
        return str(self.current.kid)

    def public_jwks(self) -> dict[str, Any]:
        """JWKS (RFC 7517) of the current and every retired public key, current first."""
        keys = [self.current, *self.retired]
        return {"keys": [_public(k).as_dict(private=False) for k in keys]}

    @functools.cached_property
    def public_key_set(self) -> KeySet:
        """public_jwks() as a joserfc KeySet, built once per ring (rings never change)."""
        return KeySet.import_key_set(self.public_jwks())  # type: ignore[arg-type]  # joserfc types a JWKS as a TypedDict

    @functools.cached_property
    def detached_header(self) -> bytes:
        """The base64url protected header of sign_payload's detached, unencoded-payload JWS."""
        header = {"alg": ALG, "b64": False, "crit": ["b64"], "kid": self.kid}
        text = json.dumps(header, ensure_ascii=True, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=")

    def to_storage(self) -> dict[str, Any]:
        """Serialisable form for the admin CLI's key store (holds the current private key)."""
        return {
            "current": self.current.as_dict(private=True),
            "retired": [k.as_dict(private=False) for k in self.retired],
        }

    @classmethod
    def from_stored(
        cls,
        private_jwk: Mapping[str, Any],
        retired_public_jwks: Sequence[Mapping[str, Any]],
        retired_since: Mapping[str, float] | None = None,
    ) -> KeyRing:
        """The ring from stored JWKs (epd_common.signing_keys.StoredKeys fields)."""
        ring = cls.from_storage({"current": private_jwk, "retired": list(retired_public_jwks)})
        return cls(ring.current, ring.retired, dict(retired_since or {}))

    @classmethod
    def from_storage(cls, data: Mapping[str, Any]) -> KeyRing:
        try:
            current = OKPKey.import_key(dict(data["current"]))
            retired = tuple(_public(OKPKey.import_key(dict(k))) for k in data.get("retired", []))
        except (KeyError, TypeError, ValueError, JoseError) as exc:
            raise SignatureError(f"key store is malformed: {exc}") from None
        return cls(current, retired)


def new_stored_key() -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(kid, private JWK, public JWK) of a fresh key, for epd_common.signing_keys.ensure/rotate."""
    key = generate_key()
    return str(key.kid), key.as_dict(private=True), key.as_dict(private=False)


def new_key_ring() -> KeyRing:
    return KeyRing(generate_key())


def rotate(ring: KeyRing, new_key: OKPKey | None = None) -> KeyRing:
    """Make `new_key` (or a fresh key) current; the old current key joins the retired keys."""
    return KeyRing(new_key or generate_key(), (_public(ring.current), *ring.retired))


def canonical_json(record: Any) -> bytes:
    """RFC 8785 canonical bytes; floats are refused (decimals travel as strings)."""
    _reject_floats(record, "$")
    try:
        return rfc8785.dumps(record)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise SignatureError(f"record cannot be canonicalised: {exc}") from None


def content_sha256(value: Any) -> str:
    """SHA-256 (hex) of the RFC 8785 canonical JSON of `value`, floats allowed (their ES6 shortest
    form): the content address of audit objects, whose documents may carry JSON numbers."""
    try:
        return hashlib.sha256(rfc8785.dumps(value)).hexdigest()
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise SignatureError(f"value cannot be canonicalised: {exc}") from None


def _reject_floats(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise SignatureError(f"{path} is a float; sign decimals as strings")
    if isinstance(value, Mapping):
        for k, item in value.items():
            _reject_floats(item, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _reject_floats(item, f"{path}[{i}]")


def sign_payload(payload: bytes, ring: KeyRing) -> str:
    """Detached, unencoded-payload compact JWS over `payload` (RFC 7797: the signing input is the
    protected header's base64url, ".", and the payload as it is).

    Signed with the key's Ed25519 primitive directly, the bytes joserfc's `serialize_compact` makes
    (a unit test holds them equal): its path scans and copies a page-sized payload several times in
    Python, more than the signature itself costs."""
    header, key = ring.detached_header, ring.current.private_key
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("signing failed: the current key is not a private Ed25519 key")
    signature = base64.urlsafe_b64encode(key.sign(header + b"." + payload)).rstrip(b"=")
    return f"{header.decode()}..{signature.decode()}"


def sign_record(record: Any, ring: KeyRing) -> str:
    return sign_payload(canonical_json(record), ring)


def _b64decode(segment: str, what: str) -> bytes:
    if not segment or "=" in segment:
        raise SignatureError(f"{what} is not unpadded base64url")
    try:
        return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not base64url") from None


def read_header(signature: str) -> dict[str, Any]:
    """Parse and check a detached JWS's protected header; raise SignatureError with the reason."""
    if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE_CHARS or not signature.isascii():
        raise SignatureError("signature must be an ASCII string of at most 1024 characters")
    parts = signature.split(".")
    if len(parts) != 3:
        raise SignatureError("signature must have three dot-separated parts")
    if parts[1]:
        raise SignatureError("signature must have a detached (empty) payload part")
    try:
        header = json.loads(_b64decode(parts[0], "header"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SignatureError("header is not JSON") from None
    if not isinstance(header, dict):
        raise SignatureError("header is not a JSON object")
    if header.get("alg") != ALG:
        raise SignatureError(f"algorithm {header.get('alg')!r} is not accepted (only {ALG})")
    if header.get("b64") is not False or header.get("crit") != ["b64"]:
        raise SignatureError('header must carry "b64": false and "crit": ["b64"] (RFC 7797)')
    unknown = set(header) - {"alg", "b64", "crit", "kid", "typ", "cty"}
    if unknown:
        raise SignatureError(f"header has unexpected parameters {sorted(unknown)}")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise SignatureError("header has no kid")
    if len(_b64decode(parts[2], "signature")) != 64:
        raise SignatureError("an Ed25519 signature is 64 bytes")
    return header


def _find_key(jwks: Mapping[str, Any], kid: str) -> OKPKey:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise SignatureError("JWKS must be an object with a 'keys' list")
    for entry in keys:
        if isinstance(entry, Mapping) and entry.get("kid") == kid:
            if entry.get("kty") != "OKP" or entry.get("crv") != CRV or "d" in entry:
                raise SignatureError(f"key {kid!r} is not a public Ed25519 key")
            try:
                return OKPKey.import_key(dict(entry))
            except (JoseError, ValueError, TypeError) as exc:
                raise SignatureError(f"key {kid!r} is malformed: {exc}") from None
    raise SignatureError(f"unknown kid {kid!r}")


def verify_payload(payload: bytes, signature: str, jwks: Mapping[str, Any]) -> str:
    """Verify a detached signature over `payload` with the JWKS; return the kid that signed."""
    header = read_header(signature)
    key = _find_key(jwks, header["kid"])
    try:
        jws.deserialize_compact(signature, key, registry=EDDSA_ONLY, payload=payload)
    except JoseError as exc:
        raise SignatureError(f"signature does not verify ({type(exc).__name__})") from None
    return str(header["kid"])


def verify_record(record: Any, signature: str, jwks: Mapping[str, Any]) -> str:
    return verify_payload(canonical_json(record), signature, jwks)
