"""Who may do what on the programme's Kafka cluster: one SCRAM-SHA-512 principal per service with least
privilege, read-only principals for registries, and the admin requests that put them in place.

The grants (`service_grants`, `subscriber_grants`) are pure data: the devstack, `epd kafka` and the tests
read the same table. The broker runs the StandardAuthorizer with no access for anyone without an ACL;
the programme's admin principal is a super user and is used only for provisioning.

aiokafka's admin client has no SCRAM or batch-ACL calls, so the three requests are built here on its
protocol classes (Kafka protocol: AlterUserScramCredentials v0, CreateAcls v1, DescribeAcls v1,
DeleteAcls v1). SCRAM's salted password is RFC 5802's Hi() = PBKDF2-HMAC with the mechanism's hash.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import pathlib
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.errors import for_code
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    DeleteAclsRequest_v1,
    DescribeAclsRequest_v1,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from . import topics
from .errors import CommonError
from .kafka import KafkaConnection, make_admin

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192  # Kafka accepts 4096..16384
_SCRAM_SHA_512 = 2  # the protocol's mechanism id (1: SCRAM-SHA-256)

#: A principal name: what a subscriber is called in `epd kafka grant-subscriber NAME`.
PRINCIPAL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


# The Kafka protocol's codes, complete: `epd kafka acls` lists ACLs an operator made by hand too.
class ResourceType(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class Pattern(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class Operation(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


_ALLOW = 3
_ANY_PERMISSION = 1


@dataclasses.dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: `principal` may do `operation` on the resource (from any host)."""

    principal: str
    resource: ResourceType
    name: str
    pattern: Pattern
    operation: Operation

    def describe(self) -> str:
        how = "" if self.pattern == Pattern.LITERAL else "* (prefix)"
        return f"User:{self.principal} {self.operation.name} {self.resource.name} {self.name}{how}"


# --- the table -----------------------------------------------------------------------------------

#: The Kafka lag exporter the stream workers' autoscalers read (k8s/base/kafka-lag-exporter.yaml): it only
#: describes the pipeline's topics and the services' groups (their committed offsets, the topics' high
#: watermarks), and reads and writes no record.
LAG_EXPORTER = "epd-kafka-lag-exporter"
#: Every principal `epd kafka grant-services` provisions: each service with what it writes and reads
#: (DESIGN.md section 2), nothing else, and the lag exporter.
SERVICES = ("epd-connector", "epd-ingest", "epd-intensity", "epd-footprint", "epd-publisher", LAG_EXPORTER)

_R, _W, _C, _D = Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE

# principal -> topics it reads, topics it writes (and may create), its group / internal-topic prefixes
_SERVICE_TOPICS: dict[str, tuple[tuple[topics.TopicSpec[Any], ...], tuple[topics.TopicSpec[Any], ...]]] = {
    "epd-connector": ((), (topics.TELEMETRY_RAW,)),
    "epd-ingest": ((topics.TELEMETRY_RAW,), (topics.TELEMETRY_READINGS, topics.TELEMETRY_REJECTED)),
    "epd-intensity": ((topics.TELEMETRY_READINGS,), (topics.INTENSITY_WINDOWS,)),
    "epd-footprint": ((topics.INTENSITY_WINDOWS,), (topics.INTENSITY_WINDOWS_DEAD_LETTERS,)),
    # The relay writes the change feed and records; the fan-out reads the change feed back.
    "epd-publisher": (
        (topics.FOOTPRINT_CHANGES,),
        (topics.FOOTPRINT_CHANGES, topics.FOOTPRINT_RECORDS, topics.FOOTPRINT_CHANGES_DEAD_LETTERS),
    ),
}
#: The consumer group (name prefix) each consumer uses: the service's default group with the topic prefix.
SERVICE_GROUPS = {
    "epd-ingest": "epd-ingest",
    "epd-intensity": "epd-intensity",  # faust's app id: its group and its changelog topics' prefix
    "epd-footprint": "epd-footprint",
    "epd-publisher": "epd-publisher",
}
#: What a registry may read.
SUBSCRIBER_TOPICS = (topics.FOOTPRINT_CHANGES, topics.FOOTPRINT_RECORDS)


def service_grants(principal: str, prefix: str = "") -> list[Grant]:
    """The ACLs of one service principal for the topics under `prefix` (EPD_TOPIC_PREFIX)."""
    if principal == LAG_EXPORTER:
        return lag_exporter_grants(prefix)
    if principal not in _SERVICE_TOPICS:
        raise AccessError(f"unknown service principal {principal!r} (known: {', '.join(SERVICES)})")
    reads, writes = _SERVICE_TOPICS[principal]
    out: set[Grant] = set()
    for spec in reads:
        out |= {Grant(principal, ResourceType.TOPIC, prefix + spec.name, Pattern.LITERAL, op) for op in (_R, _D)}
    for spec in writes:
        out |= {Grant(principal, ResourceType.TOPIC, prefix + spec.name, Pattern.LITERAL, op) for op in (_W, _D, _C)}
    group = SERVICE_GROUPS.get(principal)
    if group is not None:
        out.add(Grant(principal, ResourceType.GROUP, prefix + group, Pattern.PREFIXED, _R))
    if principal == "epd-intensity":
        # faust's changelog and assignor topics ("<app id>-<table>-changelog") and the worker's corrections.
        internal = (
            (f"{prefix}epd-intensity-", Pattern.PREFIXED),
            (prefix + topics.INTENSITY_CORRECTIONS, Pattern.LITERAL),
        )
        out |= {Grant(principal, ResourceType.TOPIC, name, pattern, Operation.ALL) for name, pattern in internal}
    return sorted(out)


def lag_exporter_grants(prefix: str = "") -> list[Grant]:
    """DESCRIBE only: the pipeline's topics (metadata, high watermarks: ListOffsets) and the services' groups
    (listed, their committed offsets: OffsetFetch). The broker lists only the topics and groups a principal
    may describe, so the exporter sees the programme's and nothing else; DESCRIBE grants no Fetch or Produce."""
    names = [spec.name for spec in topics.ALL_TOPICS] + [topics.INTENSITY_CORRECTIONS]
    out = {Grant(LAG_EXPORTER, ResourceType.TOPIC, prefix + name, Pattern.LITERAL, _D) for name in names}
    groups = SERVICE_GROUPS.values()
    out |= {Grant(LAG_EXPORTER, ResourceType.GROUP, prefix + group, Pattern.PREFIXED, _D) for group in groups}
    return sorted(out)


def subscriber_grants(name: str, prefix: str = "") -> list[Grant]:
    """A registry's read-only ACLs: the change feed and the records topic, in groups named after it."""
    check_name(name)
    out = [
        Grant(name, ResourceType.TOPIC, prefix + spec.name, Pattern.LITERAL, op)
        for spec in SUBSCRIBER_TOPICS
        for op in (_R, _D)
    ]
    out.append(Grant(name, ResourceType.GROUP, name, Pattern.PREFIXED, _R))
    return sorted(out)


def check_name(name: str) -> str:
    if not PRINCIPAL_NAME.match(name) or name in SERVICES:
        raise AccessError(
            f"{name!r} is not a subscriber name: 2-63 of a-z 0-9 . _ -, starting with a letter or digit,"
            " and not a service principal"
        )
    return name


def new_password() -> str:
    return secrets.token_urlsafe(24)


def password_file(path: pathlib.Path) -> str:
    """The password kept in `path`, made (random, mode 0600) when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(new_password())
        tmp.chmod(0o600)
        tmp.replace(path)
    password = path.read_text().strip()
    if len(password) < 16:
        raise AccessError(f"{path}: a Kafka password needs at least 16 characters")
    return password


def salted_password(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> bytes:
    """RFC 5802 Hi(): what the broker stores (with the salt), never the password."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


# --- protocol: AlterUserScramCredentials v0 (flexible) --------------------------------------------


class _AlterScramResponseV0(Response):
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScramRequestV0(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterScramResponseV0
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScram(Request[_AlterScramRequestV0]):
    API_KEY = 51

    def __init__(self, deletions: list[tuple[Any, ...]], upsertions: list[tuple[Any, ...]]) -> None:
        self._deletions, self._upsertions = deletions, upsertions

    def build(self, request_struct_class: type[_AlterScramRequestV0]) -> _AlterScramRequestV0:
        return request_struct_class(self._deletions, self._upsertions, {})


class _CreateAcls(Request[CreateAclsRequest_v1]):
    API_KEY = 30

    def __init__(self, grants: Sequence[Grant]) -> None:
        self._rows = [(g.resource, g.name, g.pattern, f"User:{g.principal}", "*", g.operation, _ALLOW) for g in grants]

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(self._rows)


class _DescribeAcls(Request[DescribeAclsRequest_v1]):
    API_KEY = 29

    def __init__(self, principal: str | None) -> None:
        self._principal = f"User:{principal}" if principal else None

    def build(self, request_struct_class: type[DescribeAclsRequest_v1]) -> DescribeAclsRequest_v1:
        return request_struct_class(1, None, Pattern.ANY, self._principal, None, Operation.ANY, _ANY_PERMISSION)


class _DeleteAcls(Request[DeleteAclsRequest_v1]):
    API_KEY = 31

    def __init__(self, principal: str) -> None:
        self._principal = f"User:{principal}"

    def build(self, request_struct_class: type[DeleteAclsRequest_v1]) -> DeleteAclsRequest_v1:
        return request_struct_class([(1, None, Pattern.ANY, self._principal, None, Operation.ANY, _ANY_PERMISSION)])


class KafkaAccess:
    """Users and ACLs on a running cluster, as the programme's admin (super user) principal."""

    def __init__(self, connection: KafkaConnection) -> None:
        self._connection = connection

    async def __aenter__(self) -> KafkaAccess:
        self._admin = make_admin(self._connection)
        await self._admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._admin.close()

    async def _send(self, request: Request[Any]) -> dict[str, Any]:
        response = await self._admin._send_request(request)  # aiokafka has no public raw send
        return response.to_object()

    async def set_password(self, name: str, password: str) -> None:
        """Create the SCRAM-SHA-512 user `name`, or replace its password (sessions already open keep going)."""
        salt = secrets.token_bytes(32)
        upsert: tuple[Any, ...] = (name, _SCRAM_SHA_512, SCRAM_ITERATIONS, salt, salted_password(password, salt), {})
        answer = await self._send(_AlterScram([], [upsert]))
        _raise_for(answer["results"], f"setting the password of {name}")

    async def delete_user(self, name: str) -> None:
        """Remove the SCRAM credential of `name` (new connections are refused; a missing one is not an error)."""
        answer = await self._send(_AlterScram([(name, _SCRAM_SHA_512, {})], []))
        _raise_for([r for r in answer["results"] if r["error_code"] != _RESOURCE_NOT_FOUND], f"deleting {name}")

    async def grant(self, grants: Iterable[Grant]) -> None:
        rows = list(grants)
        if rows:
            answer = await self._send(_CreateAcls(rows))
            _raise_for(answer["creation_responses"], "creating ACLs")

    async def revoke_all(self, principal: str) -> int:
        """Delete every ACL of `principal`; returns how many there were."""
        answer = await self._send(_DeleteAcls(principal))
        results = answer["filter_responses"]
        _raise_for(results, f"deleting the ACLs of {principal}")
        return sum(len(r["matching_acls"]) for r in results)

    async def grants(self, principal: str | None = None) -> list[Grant]:
        """The ALLOW ACLs on the cluster (of one principal)."""
        answer = await self._send(_DescribeAcls(principal))
        _raise_for([answer], "listing ACLs")
        out = []
        for res in answer["resources"]:
            for acl in res["acls"]:
                if acl["permission_type"] != _ALLOW or not acl["principal"].startswith("User:"):
                    continue
                out.append(
                    Grant(
                        acl["principal"].removeprefix("User:"),
                        ResourceType(res["resource_type"]),
                        res["resource_name"],
                        Pattern(res["resource_pattern_type"]),
                        Operation(acl["operation"]),
                    )
                )
        return sorted(out)


_RESOURCE_NOT_FOUND = 91


def _raise_for(results: Iterable[dict[str, Any]], what: str) -> None:
    failed = [r for r in results if r.get("error_code")]
    if failed:
        first = failed[0]
        reason = first.get("error_message") or for_code(first["error_code"]).__name__
        raise AccessError(f"Kafka refused {what}: {reason}")


class AccessError(CommonError):
    """A principal or grant the cluster refused, or a name that is not one."""
