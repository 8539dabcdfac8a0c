"""Builds the portal's dependencies and its uvicorn server (used by __main__, tests and the bench)."""

from __future__ import annotations

import asyncpg
import uvicorn

from epd_common import signing_keys
from epd_common.http_server import ServiceServer, json_errors
from epd_portal.admin_client import AdminClient
from epd_portal.app import create_app, plain_error
from epd_portal.deps import Deps
from epd_portal.rendering import Pages
from epd_portal.repository import Repository
from epd_portal.sessions import SessionSealer
from epd_portal.settings import PortalSettings
from epd_records.party import ProgrammeInfo
from epd_records.signing import KeyRing


def key_ring(stored: signing_keys.StoredKeys) -> KeyRing:
    return KeyRing.from_stored(stored.private_jwk, stored.retired_public_jwks)


def build_deps(settings: PortalSettings, pool: asyncpg.Pool, admin: AdminClient | None = None) -> Deps:
    sessions = SessionSealer(settings.signing_secret, settings.session_hours * 3600)
    return Deps(
        settings=settings,
        repository=Repository(pool),
        # Read only: the portal never creates or rotates keys (the gateway makes the first one).
        keys=signing_keys.CachedKeys(pool, settings.signing_secret, settings.key_refresh_seconds, key_ring),
        admin=admin or AdminClient(settings.admin_url),
        sessions=sessions,
        pages=Pages(sessions, settings.cache_seconds, settings.programme_operator),
        programme=ProgrammeInfo(
            operator_name=settings.programme_operator, extension_base_url=settings.extension_base_url
        ),
    )


async def open_pool(settings: PortalSettings) -> asyncpg.Pool:
    """A pool whose sessions are read-only as well (defence in depth beside the role's grants)."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        settings.pg_dsn,
        min_size=1,
        max_size=10,
        command_timeout=30,
        server_settings={"default_transaction_read_only": "on", "application_name": "epd_portal"},
    )
    return pool


def http_server(settings: PortalSettings, deps: Deps) -> ServiceServer:
    tls = {}
    if settings.tls_cert_file:
        tls = {"ssl_certfile": settings.tls_cert_file, "ssl_keyfile": settings.tls_key_file}
    config = uvicorn.Config(
        create_app(deps),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        http=json_errors(plain_error),
        **tls,  # type: ignore[arg-type]
    )
    return ServiceServer(config)
