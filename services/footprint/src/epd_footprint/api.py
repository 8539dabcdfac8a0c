"""Internal admin API (FastAPI): people with roles (auth.py, users.py), JSON errors `{code, message}`.

Every route needs a bearer API key of an admin user (or the legacy bootstrap operator token); reads are
open to every role, registry writes need `operator`, approve/reject/withdraw need `verifier` (401/403
with `{code, message}`).

Every failure is a 4xx with a body: validation (422), unknown ids (404), duplicates (409), forbidden
lifecycle transitions (409). Database constraint errors are mapped, never surfaced as 500.
"""

from __future__ import annotations

import logging
import uuid

import asyncpg
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from epd_common import audit_context
from epd_common.http_limits import RequestBodyLimit, RequestHeadLimit, coded_error
from epd_common.http_metrics import RedMiddleware, red_metrics

from . import admin, decisions, pcrs, plant_keys, site
from . import schemas as s
from .auth import Authenticator, require
from .users import Action, User
from .versions import VersionError

log = logging.getLogger(__name__)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"code": code, "message": message[:2000]})


HTTP_REQUESTS, HTTP_DURATION = red_metrics(
    "epd_footprint_admin_http_requests_total", "epd_footprint_admin_http_request_duration_seconds"
)


def create_app(
    pool: asyncpg.Pool, token: str, *, max_body_bytes: int = 4 * 1024 * 1024, max_json_depth: int = 64
) -> FastAPI:
    auth = Authenticator(pool, token)
    bearer = HTTPBearer(auto_error=False)

    async def caller(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> User:
        user = await auth.authenticate(creds.credentials if creds is not None else None)
        # Who the audit log names for this request's changes (epd_common.audit_context).
        audit_context.act_as("admin-token" if user.bootstrap else f"{user.name} ({user.user_id})")
        return user

    async def operator(user: User = Depends(caller)) -> User:
        require(user, Action.WRITE)
        return user

    async def verifier(user: User = Depends(caller)) -> User:
        require(user, Action.DECIDE)
        return user

    write = [Depends(operator)]
    app = FastAPI(title="epd footprint admin", dependencies=[Depends(caller)], docs_url=None, redoc_url=None)

    @app.exception_handler(admin.AdminError)
    async def _admin_error(_: Request, exc: admin.AdminError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(pcrs.PcrError)
    async def _pcr_error(_: Request, exc: pcrs.PcrError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(VersionError)
    async def _version_error(_: Request, exc: VersionError) -> JSONResponse:
        return _error(404 if exc.code == "unknown_version" else 409, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(x)[:100] for x in e.get("loc", ())], "msg": str(e.get("msg", ""))[:300]}
            for e in exc.errors()[:20]
        ]
        return JSONResponse(
            status_code=422, content={"code": "invalid_request", "message": "request is invalid", "errors": errors}
        )

    @app.exception_handler(asyncpg.ForeignKeyViolationError)
    async def _fk(_: Request, exc: asyncpg.ForeignKeyViolationError) -> JSONResponse:
        return _error(404, "unknown_reference", f"a referenced id does not exist ({exc.constraint_name})")

    @app.exception_handler(asyncpg.UniqueViolationError)
    async def _dup(_: Request, exc: asyncpg.UniqueViolationError) -> JSONResponse:
        return _error(409, "already_exists", f"already registered ({exc.constraint_name})")

    @app.exception_handler(asyncpg.IntegrityConstraintViolationError)
    async def _check(_: Request, exc: asyncpg.IntegrityConstraintViolationError) -> JSONResponse:
        return _error(422, "constraint_violation", f"value not accepted ({exc.constraint_name})")

    @app.exception_handler(asyncpg.DataError)
    async def _data(_: Request, exc: asyncpg.DataError) -> JSONResponse:
        return _error(422, "invalid_value", "a value is out of range or malformed")

    @app.post("/organisations", status_code=201, dependencies=write)
    async def organisations(body: s.OrganisationIn) -> dict:
        return await admin.add_organisation(pool, body)

    @app.post("/plants", status_code=201)
    async def plants(body: s.PlantIn, user: User = Depends(operator)) -> dict:
        return await admin.add_plant(pool, body, user.user_id)

    @app.put("/plants/{plant_id}/site", dependencies=write)
    async def plant_site(
        body: s.SiteIn, plant_id: str = Path(pattern=s.ID_PATTERN), user: User = Depends(caller)
    ) -> dict:
        """The plant, its processes, products, meters and key in one transaction: what is missing is created,
        equal rows are accepted, a differing row is a 409 and nothing changes."""
        return await site.register_site(pool, plant_id, body, user.user_id)

    @app.post("/plants/{plant_id}/keys", status_code=201, dependencies=write)
    async def add_plant_key(body: s.PlantKeyIn, plant_id: str = Path(pattern=s.ID_PATTERN)) -> dict:
        return await admin.add_plant_key(pool, plant_id, body)

    @app.get("/plants/{plant_id}/keys")
    async def plant_key_list(plant_id: str = Path(pattern=s.ID_PATTERN)) -> dict:
        return await plant_keys.list_keys(pool, plant_id)

    @app.post("/plants/{plant_id}/keys/{key_id}/retire", dependencies=write)
    async def retire_plant_key(
        body: s.KeyRetireIn, plant_id: str = Path(pattern=s.ID_PATTERN), key_id: str = Path(pattern=s.ID_PATTERN)
    ) -> dict:
        return await plant_keys.retire_key(pool, plant_id, key_id, body)

    @app.post("/plants/{plant_id}/keys/{key_id}/revoke", dependencies=write)
    async def revoke_plant_key(
        body: s.KeyRevokeIn, plant_id: str = Path(pattern=s.ID_PATTERN), key_id: str = Path(pattern=s.ID_PATTERN)
    ) -> dict:
        audit_context.because(body.reason)
        return await plant_keys.revoke_key(pool, plant_id, key_id, body)

    @app.post("/processes", status_code=201, dependencies=write)
    async def processes(body: s.ProcessIn) -> dict:
        return await admin.add_process(pool, body)

    @app.post("/meters", status_code=201, dependencies=write)
    async def meters(body: s.MeterIn) -> dict:
        return await admin.add_meter(pool, body)

    @app.post("/products", status_code=201)
    async def products(body: s.ProductIn, user: User = Depends(operator)) -> dict:
        return await admin.add_product(pool, body, user.user_id)

    @app.post("/product-systems", status_code=201, dependencies=write)
    async def product_systems(body: s.ProductSystemIn) -> dict:
        return await admin.add_product_system(pool, body)

    @app.post("/pcrs", status_code=201, dependencies=write)
    async def add_pcr(body: pcrs.PcrIn) -> dict:
        """A new product category rule with its first version."""
        return await pcrs.add_version(pool, body.pcr_id, body, new=True)

    @app.post("/pcrs/{pcr_id}/versions", status_code=201, dependencies=write)
    async def add_pcr_version(body: pcrs.PcrVersionIn, pcr_id: str = Path(pattern=s.ID_PATTERN)) -> dict:
        """The next version of a PCR (numbered above every earlier one); earlier versions stay as they are."""
        return await pcrs.add_version(pool, pcr_id, body, new=False)

    @app.get("/pcrs")
    async def list_pcrs() -> list[dict]:
        return await pcrs.list_pcrs(pool)

    @app.get("/pcrs/{pcr_id}")
    async def get_pcr(pcr_id: str = Path(pattern=s.ID_PATTERN)) -> list[dict]:
        return await pcrs.list_pcrs(pool, pcr_id)

    @app.post("/epds/import", status_code=201, dependencies=write)
    async def import_epd(body: s.EpdImportIn) -> dict:
        return await admin.import_epd(pool, body)

    @app.put("/policies", dependencies=write)
    async def policies(body: s.PolicyIn) -> dict:
        return await admin.set_policy(pool, body)

    @app.get("/drift-events")
    async def drift_events(
        product_id: str | None = Query(None, pattern=s.ID_PATTERN), limit: int = Query(100, ge=1, le=1000)
    ) -> list[dict]:
        return await admin.drift_events(pool, product_id, limit)

    @app.get("/me")
    async def me(user: User = Depends(caller)) -> dict:
        """Who the presented key belongs to (the portal names the logged-in person from it)."""
        return {
            "user_id": user.user_id,
            "name": user.name,
            "roles": sorted(r.value for r in user.roles),
            "may_decide": user.may(Action.DECIDE),
        }

    @app.get("/versions/{pf_id}")
    async def get_version(pf_id: uuid.UUID) -> dict:
        return await admin.version(pool, pf_id)

    @app.post("/versions/{pf_id}/approve")
    async def approve(pf_id: uuid.UUID, body: s.ApproveIn | None = None, user: User = Depends(verifier)) -> dict:
        """Records the authenticated verifier; a body `verifier` (deprecated) is ignored."""
        if body is not None and body.verifier is not None and body.verifier != user.name:
            log.warning("approve: body verifier ignored", extra={"pf_id": str(pf_id), "user_id": user.user_id})
        return await decisions.approve_version(pool, pf_id, user)

    @app.post("/versions/{pf_id}/reject")
    async def reject(pf_id: uuid.UUID, body: s.ReasonIn, user: User = Depends(verifier)) -> dict:
        log.info("version rejected", extra={"pf_id": str(pf_id), "user_id": user.user_id})
        audit_context.because(body.reason)
        return await decisions.reject_version(pool, pf_id, body.reason, user)

    @app.post("/versions/{pf_id}/withdraw")
    async def withdraw(pf_id: uuid.UUID, body: s.ReasonIn, user: User = Depends(verifier)) -> dict:
        log.info("version withdrawn", extra={"pf_id": str(pf_id), "user_id": user.user_id})
        audit_context.because(body.reason)
        return await decisions.withdraw_version(pool, pf_id, body.reason, user)

    @app.post("/versions/expire", dependencies=write)
    async def expire() -> dict:
        return await admin.expire_versions(pool)

    app.add_middleware(RedMiddleware, requests=HTTP_REQUESTS, duration=HTTP_DURATION)
    # Before routing, validation and the token: bodies bounded while they stream in, JSON depth, the head.
    app.add_middleware(RequestBodyLimit, default_max=max_body_bytes, max_json_depth=max_json_depth, body=coded_error)
    app.add_middleware(RequestHeadLimit, body=coded_error)
    return app
