"""`epd kafka`: the cluster's principals and grants, run as the programme's Kafka admin (EPD_KAFKA_USERNAME
and EPD_KAFKA_PASSWORD of the admin principal, a super user; `make stack-up` prints them with
`python -m epd_devstack env`). What each principal may do is `epd_common.kafka_access`.

- `grant-services`: the topics, and each service's (and the lag exporter's) SCRAM user and ACLs for EPD_TOPIC_PREFIX.
- `grant-subscriber NAME`: a registry's read-only principal (change feed and records); prints its password once.
- `revoke NAME`: its password and every ACL removed; new connections are refused.
- `acls [--principal NAME]`: what is granted.
"""

from __future__ import annotations

import asyncio
import json
import pathlib

import typer
from rich.console import Console

from epd_common import kafka_access
from epd_common.kafka import ensure_topics
from epd_common.kafka_access import AccessError, KafkaAccess
from epd_common.settings import ServiceSettings

app = typer.Typer(help="Kafka principals and ACLs (as the programme's Kafka admin).", no_args_is_help=True)
console = Console()


def _fail(exc: Exception) -> None:
    console.print(f"[red]{exc}[/red]")
    raise typer.Exit(1) from None


@app.command("grant-services")
def grant_services(
    password_dir: pathlib.Path = typer.Option(
        ...,
        "--password-dir",
        help="one <principal>.password per service (created with a random password when missing, mode 0600)",
    ),
) -> None:
    """Create the topics, each service principal (and the lag exporter's) with its password and its ACLs."""
    settings = ServiceSettings()

    async def run() -> None:
        await ensure_topics(settings.kafka, replication=settings.topic_replication, prefix=settings.topic_prefix)
        async with KafkaAccess(settings.kafka) as access:
            for service in kafka_access.SERVICES:
                await access.set_password(service, kafka_access.password_file(password_dir / f"{service}.password"))
                await access.grant(kafka_access.service_grants(service, settings.topic_prefix))
                console.print(f"{service}: password set, ACLs granted")

    try:
        asyncio.run(run())
    except AccessError as exc:
        _fail(exc)


@app.command("grant-subscriber")
def grant_subscriber(
    name: str = typer.Argument(..., help="the registry's principal (and the prefix of its consumer groups)"),
    json_out: bool = typer.Option(False, "--json", help="print the connection settings as JSON"),
) -> None:
    """A read-only principal for a registry: the change feed and the records topic, nothing else."""
    settings = ServiceSettings()
    try:
        grants = kafka_access.subscriber_grants(name, settings.topic_prefix)
    except AccessError as exc:
        _fail(exc)
    password = kafka_access.new_password()

    async def run() -> None:
        async with KafkaAccess(settings.kafka) as access:
            await access.set_password(name, password)
            await access.grant(grants)

    try:
        asyncio.run(run())
    except AccessError as exc:
        _fail(exc)
    if json_out:
        print(json.dumps({"username": name, "password": password, "mechanism": kafka_access.SCRAM_MECHANISM}))
        return
    console.print(f"principal {name} ({kafka_access.SCRAM_MECHANISM}); its password, shown once:")
    print(password)
    for grant in grants:
        console.print(f"  {grant.describe()}")


@app.command()
def revoke(name: str = typer.Argument(..., help="a subscriber (or a service) principal")) -> None:
    """Remove the principal's password and every ACL: its new connections are refused."""
    settings = ServiceSettings()

    async def run() -> int:
        async with KafkaAccess(settings.kafka) as access:
            await access.delete_user(name)
            return await access.revoke_all(name)

    try:
        removed = asyncio.run(run())
    except AccessError as exc:
        _fail(exc)
    console.print(f"{name}: password removed, {removed} ACLs deleted")


@app.command()
def acls(principal: str = typer.Option(None, "--principal", help="only this principal's")) -> None:
    """Every ALLOW ACL on the cluster (the StandardAuthorizer denies the rest)."""
    settings = ServiceSettings()

    async def run() -> list[kafka_access.Grant]:
        async with KafkaAccess(settings.kafka) as access:
            return await access.grants(principal)

    try:
        for grant in asyncio.run(run()):
            print(grant.describe())
    except AccessError as exc:
        _fail(exc)
