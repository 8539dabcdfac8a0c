"""Bearer-token dependency: verifies the access token, the client's standing and its scope, applies
the per-client rate limit, and loads the client's recognition agreement (one statement per request)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from epd_gateway import tokens
from epd_gateway.deps import Deps
from epd_gateway.errors import ApiError
from epd_gateway.ratelimit import retry_after
from epd_gateway.repository import CLIENT_SELECT, client_record
from epd_gateway.settings import GatewaySettings
from epd_records.recognition import RecognitionAgreement

bearer = HTTPBearer(auto_error=False, scheme_name="BearerAuth")
_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True)
class Caller:
    principal: tokens.Principal
    agreement: RecognitionAgreement


@functools.lru_cache(maxsize=1024)
def _agreement(raw_json: str) -> RecognitionAgreement:
    """The validated agreement (immutable), memoised by its JSON: read on every request, rarely changed."""
    return RecognitionAgreement.model_validate_json(raw_json)


def require(scope: str):
    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Caller:
        deps: Deps = request.app.state.deps
        settings: GatewaySettings = request.app.state.settings
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "a bearer access token is required", "AccessDenied", {"WWW-Authenticate": "Bearer"})
        ring = await deps.keys.get()
        try:
            principal = tokens.verify(
                credentials.credentials, ring, issuer=settings.issuer, audience=settings.audience, now=deps.clock()
            )
        except tokens.TokenError as exc:
            raise ApiError(401, str(exc), "TokenExpired" if exc.expired else "AccessDenied", _CHALLENGE) from None
        # The client's rate-limit take and the client as it is now, in one statement (read on every request:
        # disabling it, its partner or a scope takes effect at once).
        wait, row = await deps.api_limits.take_with(
            principal.client_id, CLIENT_SELECT.format(id="$6"), principal.client_id
        )
        if wait > 0:
            raise ApiError(429, "rate limit exceeded", "BadRequest", {"Retry-After": retry_after(wait)})
        if scope not in principal.scopes:
            raise ApiError(403, f"the token lacks the {scope} scope", "AccessDenied")
        client = client_record(row)
        if client is None or not client.usable or client.partner_id != principal.partner_id:
            raise ApiError(403, "the client is disabled or unknown", "AccessDenied")
        if scope not in client.scopes:
            raise ApiError(403, f"the client no longer has the {scope} scope", "AccessDenied")
        try:
            agreement = _agreement(json.dumps(client.agreement, sort_keys=True))
        except (ValidationError, ValueError):
            raise ApiError(403, "the client's recognition agreement is not usable", "AccessDenied") from None
        return Caller(principal, agreement)

    return dependency
