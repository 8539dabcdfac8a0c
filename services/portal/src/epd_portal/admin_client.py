"""The footprint admin API as operators use it from the portal: with their own bearer token.

The portal's database role cannot change anything; approvals and rejections go where every
operator action goes (the footprint service's admin API, which applies the lifecycle rules, writes
the outbox row and answers `{code, message}` errors)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from epd_portal.errors import AdminApiError


class AdminClient:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 15) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return await self._http.request(method, path, json=body, headers={"authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise AdminApiError(503, f"the footprint admin API cannot be reached: {type(exc).__name__}") from None

    async def whoami(self, token: str) -> dict[str, Any] | None:
        """The admin API's user for this key (`GET /me`: name, roles), or None when it refuses the key."""
        res = await self._call("GET", "/me", token)
        if res.status_code == 401:
            return None
        return _ok(res)

    async def approve(self, token: str, pf_id: uuid.UUID) -> dict[str, Any]:
        """The admin API records the authenticated verifier (the key's user), never a name sent along."""
        return _ok(await self._call("POST", f"/versions/{pf_id}/approve", token))

    async def reject(self, token: str, pf_id: uuid.UUID, reason: str) -> dict[str, Any]:
        return _ok(await self._call("POST", f"/versions/{pf_id}/reject", token, {"reason": reason}))


def _message(res: httpx.Response) -> str:
    try:
        body = res.json()
        return str(body.get("message") or body)[:500]
    except ValueError:
        return res.text[:500] or res.reason_phrase


def _ok(res: httpx.Response) -> dict[str, Any]:
    if res.status_code >= 300:
        raise AdminApiError(res.status_code, _message(res))
    out: dict[str, Any] = res.json()
    return out
