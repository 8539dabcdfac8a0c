"""Everything the routes use, built by the composition root (or by tests) and passed to create_app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from epd_portal.admin_client import AdminClient
from epd_portal.rendering import Pages
from epd_portal.repository import Repository
from epd_portal.sessions import SessionSealer
from epd_portal.settings import PortalSettings
from epd_records.party import ProgrammeInfo
from epd_records.signing import KeyRing


class KeySource(Protocol):
    async def get(self) -> KeyRing: ...


@dataclass
class Deps:
    settings: PortalSettings
    repository: Repository
    keys: KeySource
    admin: AdminClient
    sessions: SessionSealer
    pages: Pages
    programme: ProgrammeInfo
