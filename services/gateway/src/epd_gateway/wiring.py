"""Builds the gateway's dependencies and its TLS uvicorn server (used by __main__, tests and the bench)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import uvicorn

from epd_common import crypto
from epd_common.http_server import ServiceServer, json_errors, pact_error
from epd_gateway.app import create_app
from epd_gateway.catalogue import Catalogue
from epd_gateway.deps import Deps
from epd_gateway.keystore import cached_key_ring
from epd_gateway.observability import export_certificate_expiry
from epd_gateway.ratelimit import SharedBuckets
from epd_gateway.repository import Repository
from epd_gateway.settings import GatewaySettings
from epd_gateway.tls import self_signed
from epd_records.party import ProgrammeInfo


def programme_info(settings: GatewaySettings) -> ProgrammeInfo:
    return ProgrammeInfo(operator_name=settings.programme_operator, extension_base_url=settings.extension_base_url)


def build_deps(settings: GatewaySettings, pool: asyncpg.Pool) -> Deps:
    programme = programme_info(settings)
    repository = Repository(pool, programme.product_id_prefix)
    return Deps(
        repository=repository,
        catalogue=Catalogue(repository, programme),
        keys=cached_key_ring(pool, settings.signing_secret, settings.key_refresh_seconds, settings.key_max_age_days),
        cursor_key=crypto.derive_key(settings.signing_secret, "cursor"),
        api_limits=SharedBuckets(pool, "api", settings.rate_per_second, settings.rate_burst),
        token_limits=SharedBuckets(pool, "token", settings.token_rate_per_second, settings.token_rate_burst),
    )


def tls_files(settings: GatewaySettings) -> tuple[Path, Path]:
    """The configured certificate and key, or a self-signed pair generated under tls_dir."""
    if settings.tls_cert_file or settings.tls_key_file:
        if not (settings.tls_cert_file and settings.tls_key_file):
            raise ValueError("set both EPD_GATEWAY_TLS_CERT_FILE and EPD_GATEWAY_TLS_KEY_FILE, or neither")
        return Path(settings.tls_cert_file), Path(settings.tls_key_file)
    return self_signed(Path(settings.tls_dir))


def https_server(settings: GatewaySettings, deps: Deps, *, run_request_worker: bool = True) -> ServiceServer:
    """A uvicorn server that speaks TLS only: a plain-HTTP request to its port fails the handshake."""
    cert, key = tls_files(settings)
    export_certificate_expiry(cert)
    app = create_app(settings, deps, run_request_worker=run_request_worker)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        http=json_errors(pact_error),  # HTTP-layer 400s as PACT {code, message} too
    )
    return ServiceServer(config)
