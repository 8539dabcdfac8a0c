"""OAuth2 client-credentials token endpoint (RFC 6749 4.4, HTTP Basic client authentication), the
OpenID discovery document and the JWKS (current and every retired public key)."""

from __future__ import annotations

import base64
import binascii
import functools
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from epd_common import crypto
from epd_gateway import tokens
from epd_gateway.deps import Deps
from epd_gateway.ratelimit import retry_after
from epd_gateway.settings import GatewaySettings

router = APIRouter()
TOKEN_BODY_BYTES = 4096  # a client-credentials form is a few dozen bytes; the body limit enforces it
_OAUTH_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
_TOKEN = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string"},
        "expires_in": {"type": "integer"},
        "scope": {"type": "string"},
    },
}
_TOKEN_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string"},
                    },
                }
            }
        },
    },
    "security": [{"BasicAuth": []}],
    "responses": {
        "200": {"description": "access token", "content": {"application/json": {"schema": _TOKEN}}},
        **{
            s: {"description": d, "content": {"application/json": {"schema": _OAUTH_ERROR}}}
            for s, d in (("400", "invalid request"), ("401", "invalid client"), ("429", "rate limited"))
        },
    },
}


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


@functools.cache
def _unknown_client_hash() -> str:
    """A hash no secret matches, with the parameters of real ones (made once, on first use)."""
    return crypto.hash_secret(crypto.new_client_secret())


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote(client_id), unquote(secret)  # RFC 6749 2.3.1: form-urlencoded before Basic


@router.post(
    "/auth/token",
    openapi_extra=_TOKEN_DOC,
    response_class=JSONResponse,
    tags=["auth"],
    responses={200: {"model": None}},
)
async def token(request: Request) -> JSONResponse:
    deps: Deps = request.app.state.deps
    settings: GatewaySettings = request.app.state.settings
    creds = _basic(request.headers.get("authorization"))
    # Limited per source address before any work (a claimed client id is not a key: anyone could lock a
    # client out with it), and per client once its secret checked.
    wait = await deps.token_limits.take(f"ip:{request.client.host if request.client else '-'}")
    if wait > 0:
        return _oauth_error(429, "slow_down", "too many token requests", {"Retry-After": retry_after(wait)})
    if creds is None:
        return _oauth_error(
            401,
            "invalid_client",
            "HTTP Basic client authentication is required",
            {"WWW-Authenticate": 'Basic realm="epd-gateway"'},
        )
    body = await request.body()
    if len(body) > TOKEN_BODY_BYTES:
        return _oauth_error(400, "invalid_request", "request body too large")
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return _oauth_error(400, "invalid_request", "body must be application/x-www-form-urlencoded")
    if form.get("grant_type") != ["client_credentials"]:
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    client_id, secret = creds
    client = await deps.repository.client(client_id) if 0 < len(client_id) <= 100 and "\x00" not in client_id else None
    # An unknown client costs the same scrypt as a known one: the answer time does not tell ids apart.
    secret_ok = crypto.check_secret(secret, client.secret_hash if client is not None else _unknown_client_hash())
    if client is None or not client.usable or not secret_ok:
        return _oauth_error(
            401,
            "invalid_client",
            "unknown client, wrong secret or disabled client",
            {"WWW-Authenticate": 'Basic realm="epd-gateway"'},
        )
    wait = await deps.token_limits.take(f"client:{client.client_id}")
    if wait > 0:
        return _oauth_error(429, "slow_down", "too many token requests", {"Retry-After": retry_after(wait)})
    requested = form.get("scope", [""])[0].split()
    granted = client.scopes & tokens.SCOPES
    if requested:
        if not set(requested) <= granted:
            return _oauth_error(400, "invalid_scope", "a requested scope is not granted to this client")
        granted = frozenset(requested)
    ring = await deps.keys.get()
    access = tokens.issue(
        ring,
        client_id=client.client_id,
        partner_id=client.partner_id,
        scopes=granted,
        issuer=settings.issuer,
        audience=settings.audience,
        ttl_seconds=settings.token_ttl_seconds,
        now=deps.clock(),
    )
    return JSONResponse(
        {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": settings.token_ttl_seconds,
            "scope": " ".join(sorted(granted)),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/.well-known/openid-configuration", tags=["auth"])
async def openid_configuration(request: Request) -> dict:
    settings: GatewaySettings = request.app.state.settings
    base = settings.issuer.rstrip("/")
    return {
        "issuer": settings.issuer,
        "token_endpoint": f"{base}/auth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": sorted(tokens.SCOPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }


@router.get("/.well-known/jwks.json", tags=["auth"])
async def jwks(request: Request) -> JSONResponse:
    deps: Deps = request.app.state.deps
    ring = await deps.keys.get()
    return JSONResponse(ring.public_jwks(), headers={"Cache-Control": "public, max-age=60"})
