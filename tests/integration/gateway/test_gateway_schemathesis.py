"""Schemathesis over the gateway's own OpenAPI (/openapi.json) with every check, against the real
server over HTTPS: no server error, no response that violates the documented schemas."""

from __future__ import annotations

import asyncio

import requests
import schemathesis
from gateway_seed import MAGNET, OXIDE, add_product, add_version
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS

MAX_EXAMPLES = 25


def fuzz(base_url: str, cert: str, token: str, openapi: dict) -> list[str]:
    schema = schemathesis.openapi.from_dict(openapi)
    session = requests.Session()
    session.verify = cert
    failures: list[str] = []
    checks = CHECKS.get_all()
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            headers = {"Authorization": f"Bearer {token}"} if case.operation.path != "/auth/token" else None
            case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=checks, verify=cert)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    return failures


async def test_schemathesis_finds_no_server_error_or_schema_violation(gateway, db):
    await add_version(db, await add_product(db, "ndpr-oxide", OXIDE))
    await add_version(db, await add_product(db, "ndfeb-magnet", MAGNET, org="org-b"))
    token = await gateway.token("all")
    async with gateway.client() as http:
        openapi = (await http.get("/openapi.json")).json()
    failures = await asyncio.to_thread(fuzz, gateway.url, str(gateway.cert), token, openapi)
    assert not failures, "\n\n".join(failures)
