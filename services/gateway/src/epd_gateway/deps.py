"""Everything the routes use, built by the composition root (or by tests) and passed to create_app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from epd_gateway.catalogue import Catalogue
from epd_gateway.ratelimit import RateLimiter
from epd_gateway.repository import Repository
from epd_records.signing import KeyRing


class KeySource(Protocol):
    async def get(self) -> KeyRing: ...


@dataclass
class Deps:
    repository: Repository
    catalogue: Catalogue
    keys: KeySource
    cursor_key: bytes
    api_limits: RateLimiter
    token_limits: RateLimiter
    clock: Callable[[], float] = field(default=time.time)
    # Set when a RequestCreated event arrives, so the request worker answers without waiting a poll.
    request_wakeup: asyncio.Event | None = None

    async def drop_retired_records(self) -> int:
        """Delete stored records and documents signed by a retired key (they are never served again)."""
        kid = (await self.keys.get()).kid
        return await self.repository.drop_retired(kid) + await self.catalogue.documents.drop_retired(kid)
