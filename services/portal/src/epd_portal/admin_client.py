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

    async def token_valid(self, token: str) -> bool:
        """Whether the admin API accepts this operator token (a read that changes nothing)."""
        res = await self._call("GET", "/drift-events?limit=1", token)
        if res.status_code == 401:
            return False
        if res.status_code != 200:
            raise AdminApiError(res.status_code, _message(res))
        return True

    async def approve(self, token: str, pf_id: uuid.UUID, verifier: str) -> dict[str, Any]:
        return _ok(await self._call("POST", f"/versions/{pf_id}/approve", token, {"verifier": verifier}))

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
