"""OAuth2 access tokens: short-lived JWTs (RFC 9068 style) signed by the gateway with EdDSA.

Verification accepts EdDSA only (so `alg: none` and HS256 tokens fail before any key is used),
a kid from the gateway's key ring, the gateway's issuer and audience, and an unexpired `exp`.

A token that verified once is remembered (per process, bounded) with the claims that depend on the
time: the signature check and claim parsing (~0.5-1 ms, more than a `/health` answer costs) are a
pure function of the token, the ring's keys, the issuer and the audience, so every later request
with it repeats only the time checks (exp, nbf, iat) and the retired-key grace. Replicas agree:
the remembered answer is the one any of them computes. Failures are never remembered.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError

from epd_gateway.errors import GatewayError
from epd_records.errors import SignatureError
from epd_records.signing import ALG, EDDSA_ONLY, KeyRing

SCOPES = frozenset({"footprint:list", "footprint:read", "events:write"})
_MAX_TOKEN = 4096
_LEEWAY = 5
#: The longest lifetime a token may have (EPD_GATEWAY_TOKEN_TTL_SECONDS is at most this).
MAX_TOKEN_LIFETIME_SECONDS = 900
#: After a rotation, tokens signed by the old key stay valid this long (then 401: clients ask for a new
#: token); a rotation after a leak takes effect within a minute.
RETIRED_KEY_GRACE_SECONDS = 60


class TokenError(GatewayError):
    """Rejected access token; `expired` tells TokenExpired apart from other failures."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Principal:
    client_id: str
    partner_id: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token that verified: who it names and its time claims (checked again on every use)."""

    principal: Principal
    issued: int
    not_before: float | None
    expires: int


#: Verified tokens by (token, issuer, audience, the ring's kids): key ids are RFC 7638 thumbprints,
#: so equal kids are equal keys. Bounded; the oldest entry goes first.
_VERIFIED: dict[tuple[str, str, str, tuple[str, ...]], _Verified] = {}
VERIFIED_CACHE_SIZE = 4096


def issue(
    ring: KeyRing,
    *,
    client_id: str,
    partner_id: str,
    scopes: frozenset[str],
    issuer: str,
    audience: str,
    ttl_seconds: int,
    now: float | None = None,
) -> str:
    now = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
        "scope": " ".join(sorted(scopes)),
        "partner_id": partner_id,
    }
    header = {"alg": ALG, "kid": ring.kid, "typ": "at+jwt"}
    return jwt.encode(header, claims, ring.current, registry=EDDSA_ONLY)


def _header(token: str) -> dict:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("token header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise TokenError("token header is not an object")
    return header


def verify(token: str, ring: KeyRing, *, issuer: str, audience: str, now: float | None = None) -> Principal:
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN or not token.isascii():
        raise TokenError("token must be an ASCII compact JWT of at most 4096 characters")
    if token.count(".") != 2:
        raise TokenError("token must be a compact JWS with three parts")
    header = _header(token)
    if header.get("alg") != ALG:
        raise TokenError(f"token algorithm {str(header.get('alg'))[:20]!r} is not accepted")
    if str(header.get("typ", "")).lower().removeprefix("application/") != "at+jwt":
        raise TokenError("token type must be at+jwt (RFC 9068)")
    kid = header.get("kid")
    now = time.time() if now is None else now
    if kid != ring.kid:
        retired = ring.retired_since.get(str(kid))
        if retired is not None and now - retired > RETIRED_KEY_GRACE_SECONDS:
            raise TokenError("token is signed by a retired key; ask for a new token")
    key = (token, issuer, audience, (ring.kid, *(str(k.kid) for k in ring.retired)))
    verified = _VERIFIED.get(key)
    if verified is None:
        verified = _verify_signed(token, ring, issuer=issuer, audience=audience, now=now)
        if len(_VERIFIED) >= VERIFIED_CACHE_SIZE:
            del _VERIFIED[next(iter(_VERIFIED))]
        _VERIFIED[key] = verified
    else:
        _check_times(verified, now)
    return verified.principal


def _check_times(verified: _Verified, now: float) -> None:
    """The time checks of `_verify_signed` (JWTClaimsRegistry's exp and nbf, and iat), for a remembered token."""
    second = int(now)
    if verified.expires <= second - _LEEWAY:
        raise TokenError("token has expired", expired=True)
    if verified.not_before is not None and verified.not_before > second + _LEEWAY:
        raise TokenError("token claims are invalid (invalid_claim)")
    if verified.issued > second + _LEEWAY or verified.issued > now + _LEEWAY:
        raise TokenError("token lacks a valid iat")


def _verify_signed(token: str, ring: KeyRing, *, issuer: str, audience: str, now: float) -> _Verified:
    """The signature with the ring's keys, then every claim (the header is checked by the caller)."""
    try:
        decoded = jwt.decode(token, ring.public_key_set, registry=EDDSA_ONLY)
    except (JoseError, SignatureError, ValueError) as exc:
        raise TokenError(f"token signature does not verify ({type(exc).__name__})") from None
    claims = decoded.claims
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=_LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise TokenError("token has expired", expired=True) from None
    except JoseError as exc:
        raise TokenError(f"token claims are invalid ({exc.error})") from None
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int) or not isinstance(expires, int) or issued > now + _LEEWAY:
        raise TokenError("token lacks a valid iat")
    if expires - issued > MAX_TOKEN_LIFETIME_SECONDS:
        raise TokenError(f"token lifetime is longer than {MAX_TOKEN_LIFETIME_SECONDS} s")
    scope, partner = claims.get("scope"), claims.get("partner_id")
    if not isinstance(scope, str) or not isinstance(partner, str):
        raise TokenError("token lacks scope or partner_id")
    not_before = claims.get("nbf")
    return _Verified(
        Principal(str(claims["sub"]), partner, frozenset(scope.split()) & SCOPES),
        issued,
        not_before if isinstance(not_before, (int, float)) else None,
        int(expires),
    )
